// Family and prediction-type names (see model_family.h).
#include "models/model_family.h"

namespace lathe {

const char* family_name(ModelFamily f) {
  switch (f) {
    case ModelFamily::SD1: return "SD 1.x";
    case ModelFamily::SD2: return "SD 2.x";
    case ModelFamily::SDXL: return "SDXL";
  }
  return "?";
}

const char* family_id(ModelFamily f) {
  switch (f) {
    case ModelFamily::SD1: return "sd1";
    case ModelFamily::SD2: return "sd2";
    case ModelFamily::SDXL: return "sdxl";
  }
  return "?";
}

bool parse_family(std::string_view text, ModelFamily* out) {
  for (ModelFamily f : {ModelFamily::SD1, ModelFamily::SD2, ModelFamily::SDXL}) {
    if (text == family_id(f) || text == family_name(f)) {
      *out = f;
      return true;
    }
  }
  if (text == "sd15" || text == "sd1.5") return *out = ModelFamily::SD1, true;
  if (text == "sd21" || text == "sd2.1") return *out = ModelFamily::SD2, true;
  return false;
}

const char* prediction_name(PredictionType p) {
  return p == PredictionType::Epsilon ? "epsilon" : "v_prediction";
}

bool parse_prediction_type(std::string_view text, PredictionType* out) {
  if (text == "epsilon" || text == "eps") return *out = PredictionType::Epsilon, true;
  if (text == "v" || text == "v_prediction" || text == "v-prediction" || text == "vpred")
    return *out = PredictionType::VPrediction, true;
  return false;
}

PredictionType default_prediction(ModelFamily f) {
  return f == ModelFamily::SD2 ? PredictionType::VPrediction : PredictionType::Epsilon;
}

}  // namespace lathe
