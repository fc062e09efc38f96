// Which adapter a LoRA network's modules are (`[network] type`): kohya's LoRA (LoCon is LoRA with
// the convolutions adapted) and LyCORIS's LoHa and LoKr; DoRA is a switch on top of any of them
// (a `dora_scale` magnitude per module). The names are those LyCORIS writes as `algo` in
// ss_network_args, which A1111 / Forge / ComfyUI do not need (they tell the type by the keys)
// but civitai and LyCORIS's own tools read.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace lathe {

enum class NetworkAlgo { LoRA, LoHa, LoKr };

const char* network_algo_name(NetworkAlgo a);  // "lora", "loha", "lokr"

// The shape of one module, enough to build it and to read it back from a file's keys.
struct ModuleSpec {
  NetworkAlgo algo = NetworkAlgo::LoRA;
  std::int64_t rank = 4;
  double alpha = 1.0;   // <= 0 means alpha = rank
  bool dora = false;
  // LoKr only: out = out_l * out_k, in = in_m * in_n; w1 [out_l, in_m] is the small factor,
  // w2 [out_k, in_n(, kh, kw)] the large one; each either full or a rank-`rank` product.
  std::int64_t out_l = 1, out_k = 1, in_m = 1, in_n = 1;
  bool w1_decomposed = false, w2_decomposed = true;
};

// LyCORIS's factorization(dimension, factor): m <= n with m * n = dimension; with factor > 0
// dividing the dimension, (factor, dimension / factor) in order; otherwise the divisor pair
// closest to a square with m <= factor (factor -1 = no limit). 128 -> (8, 16), 127 -> (1, 127).
std::pair<std::int64_t, std::int64_t> lokr_factorization(std::int64_t dimension, std::int64_t factor);

// The LoKr layout LyCORIS's LokrModule builds for a base weight [out, in(, kh, kw)] with this
// rank and factor: w2 is a rank product when rank < max(out_k, in_n) / 2, else full ("full
// matrix" mode); w1 is a rank product only with decompose_both and rank < max(out_l, in_m) / 2.
ModuleSpec lokr_spec(std::int64_t out, std::int64_t in, std::int64_t rank, double alpha,
                     std::int64_t factor, bool decompose_both, bool dora);

}  // namespace lathe
