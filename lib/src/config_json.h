#pragma once
// Internal: model configs and cluster specs as JSON objects, for files that embed them (plans).
#include <nlohmann/json.hpp>
#include <string>

#include "json_fields.h"
#include "pp/cluster.h"
#include "pp/model.h"

namespace pp {

// Reads a Hugging Face-style config object; `default_name` when it carries no "pp_name".
ModelConfig read_model_config(const JsonFields& fields, const std::string& default_name);
// The config object read_model_config() reads back to the same ModelConfig.
nlohmann::ordered_json model_config_to_json(const ModelConfig& model);

// Reads a cluster object (schema "pp.cluster"); `default_name` when it carries no "name".
ClusterSpec read_cluster(const JsonFields& fields, const std::string& default_name);
// The cluster object read_cluster() reads back to the same ClusterSpec (to rounding of units).
nlohmann::ordered_json cluster_to_json(const ClusterSpec& cluster);

}  // namespace pp
