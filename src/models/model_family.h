// The model families Lathe trains on (SD 1.x, SD 2.x, SDXL base) and the facts that follow
// from the family alone: display names, the prediction type a checkpoint of that family
// most likely uses when nothing states it. Torch-free.
#pragma once

#include <string>
#include <string_view>

namespace lathe {

enum class ModelFamily { SD1, SD2, SDXL };
enum class PredictionType { Epsilon, VPrediction };

const char* family_name(ModelFamily f);   // "SD 1.x", "SD 2.x", "SDXL"
const char* family_id(ModelFamily f);     // "sd1", "sd2", "sdxl" (JSON, profiles)
bool parse_family(std::string_view text, ModelFamily* out);  // accepts ids and names

const char* prediction_name(PredictionType p);  // "epsilon", "v_prediction" (diffusers spelling)
// Accepts "epsilon", "eps", "v", "v_prediction", "v-prediction", "vpred".
bool parse_prediction_type(std::string_view text, PredictionType* out);

// The guess when neither the user nor the files state the prediction type. Weights do not
// tell: SD 2.x ships as 768-v (v-prediction) and 512-base (epsilon) with identical shapes,
// so SD 2.x defaults to v-prediction (the 768 models are the common ones) and says so.
PredictionType default_prediction(ModelFamily f);

}  // namespace lathe
