// The audit on 100,000 small real image files (PNG/JPEG/WebP) with captions: a full audit as
// `lathe audit DIR` runs it (scan headers + captions, every rule, the text and JSON reports),
// warm cache, and the same audit with every image decoded (--deep) for comparison. Target:
// <= 5 s wall for the audit without --deep on the project's 2-core machine.
//
// The dataset is generated once into $LATHE_BENCH_DIR (default /tmp/lathe-bench-100k) and reused;
// LATHE_BENCH_IMAGES changes the count (a different count gets its own folder).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "dataset/audit.h"
#include "dataset/audit_report.h"
#include "dataset/dataset.h"
#include "dataset_generator.h"

namespace fs = std::filesystem;

namespace {

std::size_t image_count() {
  const char* env = std::getenv("LATHE_BENCH_IMAGES");
  return env ? static_cast<std::size_t>(std::stoull(env)) : 100000;
}

// Generates the dataset once; a marker file written last says the folder is complete.
const fs::path& bench_dataset() {
  static const fs::path root = [] {
    std::size_t n = image_count();
    const char* env = std::getenv("LATHE_BENCH_DIR");
    fs::path dir = env ? fs::path(env)
                       : fs::path(n == 100000 ? "/tmp/lathe-bench-100k"
                                              : "/tmp/lathe-bench-" + std::to_string(n));
    fs::path marker = dir / ".lathe-bench-complete";
    if (!fs::exists(marker)) {
      std::cerr << "generating " << n << " images in " << dir << " (once)...\n";
      fs::remove_all(dir);
      lathe::bench::DatasetGenOptions o;
      o.images = n;
      lathe::bench::generate_dataset(dir, o);
      std::ofstream(marker) << n << "\n";
    }
    return dir;
  }();
  return root;
}

void warm_cache(const fs::path& root) {
  lathe::ScanOptions o;
  benchmark::DoNotOptimize(lathe::scan_dataset(root, o).image_count());
}

void run_full_audit(benchmark::State& state, bool deep) {
  const fs::path& root = bench_dataset();
  warm_cache(root);
  std::size_t findings = 0, images = 0, text_bytes = 0;
  for (auto _ : state) {
    lathe::ScanOptions scan;
    scan.deep = deep;
    lathe::Dataset d = lathe::scan_dataset(root, scan);
    lathe::AuditReport r = lathe::run_audit(d, lathe::AuditOptions{}, deep);
    std::string text = lathe::format_audit_text(r);
    std::string json = lathe::format_audit_json(r);
    findings = r.findings.size();
    images = r.images;
    text_bytes = text.size() + json.size();
    benchmark::DoNotOptimize(text_bytes);
  }
  state.counters["images"] = static_cast<double>(images);
  state.counters["findings"] = static_cast<double>(findings);
  state.counters["report_bytes"] = static_cast<double>(text_bytes);
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(images) * state.iterations(), benchmark::Counter::kIsRate);
}

// Rules and reports alone on an already scanned dataset: what the audit adds to the scan.
void BM_AuditRulesOnly(benchmark::State& state) {
  const fs::path& root = bench_dataset();
  lathe::Dataset d = lathe::scan_dataset(root, lathe::ScanOptions{});
  for (auto _ : state) {
    lathe::AuditReport r = lathe::run_audit(d, lathe::AuditOptions{});
    benchmark::DoNotOptimize(lathe::format_audit_text(r).size());
  }
}

void BM_FullAudit(benchmark::State& state) { run_full_audit(state, false); }
void BM_FullAuditDeep(benchmark::State& state) { run_full_audit(state, true); }

}  // namespace

BENCHMARK(BM_FullAudit)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(5);
BENCHMARK(BM_AuditRulesOnly)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(3);
BENCHMARK(BM_FullAuditDeep)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(1);

BENCHMARK_MAIN();
