// AdamW against PyTorch's formulas worked by hand, gradient clipping, and state round trips.
#include <gtest/gtest.h>

#include <cmath>

#include "pp/error.h"
#include "pp/runtime/adamw.h"

namespace pp {
namespace {

ParameterSet small_set() {
  ParameterSet set;
  set.tensors.push_back({"w", {1, 2}, {0.5f, -1.0f}, {0.0f, 0.0f}});  // 2-D: decays
  set.tensors.push_back({"b", {2}, {0.25f, 2.0f}, {0.0f, 0.0f}});     // 1-D: no decay
  return set;
}

// Gradients of step t (1-based) for element k of tensor i.
float grad_of(int t, int i, int k) {
  return 0.1f * static_cast<float>(t) - 0.3f * static_cast<float>(k) +
         0.05f * static_cast<float>(i) - 0.2f;
}

void set_grads(ParameterSet* set, int t) {
  for (int i = 0; i < 2; ++i) {
    for (int k = 0; k < 2; ++k) set->tensors[i].grad[k] = grad_of(t, i, k);
  }
}

TEST(AdamW, MatchesTheFormulasForThreeSteps) {
  const AdamWOptions o{1e-2, 0.9, 0.95, 1e-8, 0.1};
  ParameterSet set = small_set();
  AdamW optimizer(set, o);
  // Reference in double, straight from the formulas.
  double p[2][2] = {{0.5, -1.0}, {0.25, 2.0}}, m[2][2] = {}, v[2][2] = {};
  for (int t = 1; t <= 3; ++t) {
    set_grads(&set, t);
    optimizer.step(&set);
    for (int i = 0; i < 2; ++i) {
      for (int k = 0; k < 2; ++k) {
        const double g = grad_of(t, i, k);
        if (i == 0) p[i][k] -= o.lr * o.weight_decay * p[i][k];
        m[i][k] = o.beta1 * m[i][k] + (1 - o.beta1) * g;
        v[i][k] = o.beta2 * v[i][k] + (1 - o.beta2) * g * g;
        const double m_hat = m[i][k] / (1 - std::pow(o.beta1, t));
        const double v_hat = v[i][k] / (1 - std::pow(o.beta2, t));
        p[i][k] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
        EXPECT_NEAR(set.tensors[i].data[k], p[i][k], 1e-6)
            << "step " << t << " tensor " << i << " k " << k;
      }
    }
  }
  EXPECT_EQ(optimizer.steps(), 3);
}

TEST(AdamW, FirstStepByHand) {
  // Step 1 moves each element by lr * sign(g) (m_hat = g, sqrt(v_hat) = |g|); the 2-D tensor
  // first shrinks by (1 - lr * wd), the 1-D one does not.
  ParameterSet set = small_set();
  set.tensors[0].grad = {0.5f, -0.25f};
  set.tensors[1].grad = {2.0f, -4.0f};
  AdamW optimizer(set, {0.1, 0.9, 0.95, 1e-8, 0.1});
  optimizer.step(&set);
  EXPECT_NEAR(set.tensors[0].data[0], 0.5 * 0.99 - 0.1, 1e-6);
  EXPECT_NEAR(set.tensors[0].data[1], -1.0 * 0.99 + 0.1, 1e-6);
  EXPECT_NEAR(set.tensors[1].data[0], 0.25 - 0.1, 1e-6);
  EXPECT_NEAR(set.tensors[1].data[1], 2.0 + 0.1, 1e-6);
}

TEST(AdamW, GradScaleMultipliesGradients) {
  ParameterSet a = small_set(), b = small_set();
  set_grads(&a, 2);
  set_grads(&b, 2);
  for (float& g : b.tensors[1].grad) g *= 0.5f;
  for (float& g : b.tensors[0].grad) g *= 0.5f;
  AdamW oa(a, {}), ob(b, {});
  oa.step(&a, 0.5f);
  ob.step(&b);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(a.tensors[i].data, b.tensors[i].data);
  set_grads(&b, 2);
  EXPECT_EQ(a.tensors[0].grad, b.tensors[0].grad);  // grads untouched
}

TEST(AdamW, ClipScaleFollowsPyTorch) {
  EXPECT_EQ(clip_scale(0.25, 1.0), 1.0f);
  EXPECT_FLOAT_EQ(clip_scale(16.0, 1.0), static_cast<float>(1.0 / (4.0 + 1e-6)));
  EXPECT_EQ(clip_scale(16.0, 0.0), 1.0f);
  ParameterSet set = small_set();
  set.tensors[0].grad = {3.0f, 0.0f};
  set.tensors[1].grad = {0.0f, -4.0f};
  EXPECT_DOUBLE_EQ(squared_grad_norm(set), 25.0);
  EXPECT_FLOAT_EQ(clip_scale(squared_grad_norm(set), 1.0), static_cast<float>(1.0 / (5.0 + 1e-6)));
}

TEST(AdamW, StateViewsShowTheSameStateWithoutCopying) {
  ParameterSet params = small_set();
  AdamW optimizer(params, {});
  for (int t = 1; t <= 3; ++t) {
    set_grads(&params, t);
    optimizer.step(&params);
  }
  const std::vector<Tensor> copies = optimizer.state_tensors();
  const std::vector<TensorRef> views = optimizer.state_refs();
  ASSERT_EQ(copies.size(), views.size());
  for (std::size_t i = 0; i < copies.size(); ++i) {
    EXPECT_EQ(views[i].name, copies[i].name);
    EXPECT_EQ(views[i].shape, copies[i].shape);
    EXPECT_EQ(std::vector<float>(views[i].data, views[i].data + views[i].count), copies[i].data) << copies[i].name;
  }
  EXPECT_EQ(views.back().name, "adamw.step");
  EXPECT_EQ(*views.back().data, 3.0f);
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  ParameterSet straight = small_set(), resumed = small_set();
  AdamW uninterrupted(straight, {});
  AdamW first(resumed, {});
  for (int t = 1; t <= 2; ++t) {
    set_grads(&straight, t);
    set_grads(&resumed, t);
    uninterrupted.step(&straight);
    first.step(&resumed);
  }
  ParameterSet state;
  state.tensors = first.state_tensors();
  ASSERT_NE(state.find("w.exp_avg"), nullptr);
  ASSERT_NE(state.find("b.exp_avg_sq"), nullptr);
  EXPECT_EQ(state.at("adamw.step").data, std::vector<float>{2.0f});
  AdamW second(resumed, {});
  second.load_state(state);
  EXPECT_EQ(second.steps(), 2);
  for (int t = 3; t <= 5; ++t) {
    set_grads(&straight, t);
    set_grads(&resumed, t);
    uninterrupted.step(&straight);
    second.step(&resumed);
  }
  for (int i = 0; i < 2; ++i) EXPECT_EQ(straight.tensors[i].data, resumed.tensors[i].data);
}

TEST(AdamW, LoadStateNamesMissingTensor) {
  ParameterSet set = small_set();
  AdamW optimizer(set, {});
  ParameterSet state;
  state.tensors = optimizer.state_tensors();
  state.tensors.erase(state.tensors.begin());  // w.exp_avg
  try {
    optimizer.load_state(state);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("'w.exp_avg'"), std::string::npos) << e.what();
  }
}

TEST(AdamW, StepRejectsOtherTensors) {
  ParameterSet set = small_set();
  AdamW optimizer(set, {});
  ParameterSet other = small_set();
  other.tensors.pop_back();
  EXPECT_THROW(optimizer.step(&other), Error);
}

}  // namespace
}  // namespace pp
