#pragma once
// A measured per-layer profile (schema "pp.profile", version 1), documented in
// docs/profile-format.md. `pp profile` writes one; `pp plan --profile` reads one; users can write
// one from their own profiler.

#include <string>
#include <vector>

#include "pp/cluster.h"

namespace pp {

struct LayerMeasurement {
  std::string name;
  double fwd_ms = 0;            // forward of one micro-batch
  double bwd_ms = 0;            // full backward (input and weight gradients)
  double wgrad_ms = 0;          // weight-gradient part of bwd_ms
  double param_bytes = 0;       // the layer's parameters
  double activation_bytes = 0;  // kept for the backward, per micro-batch
  double output_bytes = 0;      // handed to the next layer, per micro-batch
};

struct MeasuredProfile {
  int microbatch_size = 1;  // sequences per micro-batch when measured
  int seq_len = 1;          // tokens per sequence when measured
  std::string device;       // what it was measured on (free text)
  std::vector<LayerMeasurement> layers;  // embedding, blocks in order, head
};

// Throws pp::Error(kInvalidInput) naming the field, prefixed with `origin`; refuses a profile
// whose layers together measure less than 1 ns per micro-batch (no plan could be timed by it).
MeasuredProfile parse_profile(const std::string& text, const std::string& origin);
MeasuredProfile load_profile(const std::string& path);
std::string profile_to_json_text(const MeasuredProfile& profile);

// A one-line warning when the profile's device (free text) is a CPU and the cluster's are GPUs,
// or the other way round; empty when they agree or the profile names no device.
std::string profile_device_mismatch(const MeasuredProfile& profile, const ClusterSpec& cluster);

}  // namespace pp
