// The fused GroupNorm(+add)(+SiLU) CUDA kernel (native/src/kernels) against LibTorch on the
// activation shapes of full-size SD1.5 (UNet at 64x64 latents, VAE decoder to 512x512): relative
// error against an f32 reference, and time (CUDA events, median of 100 after 20 warm-ups) of
//   fused:   d2g::kernels::group_norm_act
//   libtorch: what the models ran before: (x + add) -> at::group_norm -> at::silu in x's layout
// Built only in CUDA builds with the kernels (CMake target d2g_group_norm_bench).
//   d2g_group_norm_bench [OUT.json]
#include <torch/torch.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/fused_ops.hpp"

namespace {

struct Case {
  const char* where;
  int64_t n, c, h, w;
  bool add, silu;
};

template <typename F>
double median_ms(F&& f, int warmup = 20, int reps = 100) {
  for (int i = 0; i < warmup; i++) f();
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    cudaEventRecord(a, c10::cuda::getCurrentCUDAStream().stream());
    f();
    cudaEventRecord(b, c10::cuda::getCurrentCUDAStream().stream());
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  torch::NoGradGuard no_grad;
  if (!d2g::kernels::compiled() || !torch::cuda::is_available()) {
    std::fprintf(stderr, "needs a CUDA build with the kernels and a GPU\n");
    return 2;
  }
  torch::manual_seed(0);
  const std::vector<Case> cases = {
      {"unet down0 resnet", 1, 320, 64, 64, true, true},   {"unet down1", 1, 640, 32, 32, true, true},
      {"unet down2", 1, 1280, 16, 16, true, true},          {"unet mid", 1, 1280, 8, 8, true, true},
      {"unet up1 concat", 1, 1920, 16, 16, false, true},    {"unet up3 concat", 1, 640, 64, 64, false, true},
      {"unet transformer norm", 1, 320, 64, 64, false, false},
      {"vae mid", 1, 512, 64, 64, false, true},             {"vae up1", 1, 512, 128, 128, false, true},
      {"vae up2", 1, 512, 256, 256, false, true},           {"vae up2 out", 1, 256, 256, 256, false, true},
      {"vae up3", 1, 256, 512, 512, false, true},           {"vae up3 out", 1, 128, 512, 512, false, true},
      {"vae up3 out b4", 4, 128, 512, 512, false, true},    {"unet down0 b4", 4, 320, 64, 64, true, true},
  };
  std::ostringstream json;
  json << "{\n  \"cases\": [\n";
  std::printf("%-22s %-5s %-5s %14s %10s %10s %8s %9s\n", "case", "dtype", "lay", "shape", "fused_ms", "torch_ms",
              "speedup", "rel_err");
  bool first = true, ok = true;
  for (auto dtype : {at::kHalf, at::kBFloat16, at::kFloat}) {
    for (const auto& k : cases) {
      for (bool cl : {false, true}) {
        if (dtype == at::kFloat && (k.n > 1 || k.h > 256)) continue;  // f32: error check on the smaller shapes
        auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
        torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(32, k.c).eps(1e-6));
        norm->to(at::kCUDA, dtype);
        norm->weight.uniform_(0.5, 1.5);
        norm->bias.uniform_(-0.5, 0.5);
        // A mean far from zero per channel tests the variance's cancellation.
        at::Tensor x = (at::randn({k.n, k.c, k.h, k.w}, opts) * 2 + at::randn({1, k.c, 1, 1}, opts) * 4);
        if (cl) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        at::Tensor add = k.add ? at::randn({k.n, k.c}, opts) : at::Tensor();
        at::Tensor y = d2g::kernels::group_norm_act(x, norm, add, k.silu);
        // Reference in f32.
        at::Tensor xf = x.to(at::kFloat);
        if (k.add) xf = xf + add.to(at::kFloat).view({k.n, k.c, 1, 1});
        at::Tensor ref = at::group_norm(xf, 32, norm->weight.to(at::kFloat), norm->bias.to(at::kFloat), 1e-6);
        if (k.silu) ref = at::silu(ref);
        const double err = ((y.to(at::kFloat) - ref).abs().max() / ref.abs().max()).item<double>();
        const bool layout_kept = cl ? y.is_contiguous(at::MemoryFormat::ChannelsLast) : y.is_contiguous();
        const double tol = dtype == at::kFloat ? 1e-5 : dtype == at::kHalf ? 4e-3 : 3e-2;
        if (err > tol || !layout_kept) ok = false;
        auto fused = [&] { (void)d2g::kernels::group_norm_act(x, norm, add, k.silu); };
        auto torch_way = [&] {
          at::Tensor h = k.add ? x + add.view({k.n, k.c, 1, 1}) : x;
          h = at::group_norm(h, 32, norm->weight, norm->bias, 1e-6, true);
          if (k.silu) h = at::silu(h);
          if (cl) h = h.contiguous(at::MemoryFormat::ChannelsLast);  // the next conv wants it back
        };
        const double tf = median_ms(fused), tt = median_ms(torch_way);
        const double gbs = 3.0 * x.numel() * x.element_size() / (tf * 1e6);
        char shape[64];
        std::snprintf(shape, sizeof shape, "%ldx%ldx%ldx%ld", (long)k.n, (long)k.c, (long)k.h, (long)k.w);
        const char* dn = dtype == at::kHalf ? "f16" : dtype == at::kBFloat16 ? "bf16" : "f32";
        std::printf("%-22s %-5s %-5s %14s %10.4f %10.4f %7.2fx %9.2e%s  (%.0f GB/s)\n", k.where, dn, cl ? "nhwc" : "nchw",
                    shape, tf, tt, tt / tf, err, err > tol || !layout_kept ? " FAIL" : "", gbs);
        json << (first ? "" : ",\n") << "    {\"case\": \"" << k.where << "\", \"dtype\": \"" << dn
             << "\", \"layout\": \"" << (cl ? "nhwc" : "nchw") << "\", \"shape\": \"" << shape
             << "\", \"fused_ms\": " << tf << ", \"libtorch_ms\": " << tt << ", \"rel_err\": " << err
             << ", \"fused_gbs\": " << gbs << "}";
        first = false;
      }
    }
  }
  // Nearest 2x upsampling of channels_last activations (the VAE decoder's and UNet's Upsample2D).
  json << "\n  ],\n  \"upsample\": [\n";
  first = true;
  struct Up { const char* where; int64_t n, c, h, w; };
  for (auto dtype : {at::kHalf, at::kFloat}) {
    for (const Up& u : {Up{"vae up0", 1, 512, 64, 64}, Up{"vae up1", 1, 512, 128, 128}, Up{"vae up2", 1, 256, 256, 256},
                        Up{"vae up2 b4", 4, 256, 256, 256}, Up{"unet up0", 1, 1280, 8, 8}}) {
      auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
      at::Tensor x = at::randn({u.n, u.c, u.h, u.w}, opts).contiguous(at::MemoryFormat::ChannelsLast);
      at::Tensor y = d2g::kernels::upsample_nearest2x(x);
      at::Tensor ref = at::upsample_nearest2d(x, {2 * u.h, 2 * u.w});
      const bool same = y.equal(ref) && y.is_contiguous(at::MemoryFormat::ChannelsLast);
      if (!same) ok = false;
      const double tf = median_ms([&] { (void)d2g::kernels::upsample_nearest2x(x); });
      const double tt = median_ms([&] { (void)at::upsample_nearest2d(x, {2 * u.h, 2 * u.w}); });
      const double gbs = 5.0 * x.numel() * x.element_size() / (tf * 1e6);
      const char* dn = dtype == at::kHalf ? "f16" : "f32";
      std::printf("upsample %-12s %-4s %ldx%ldx%ldx%ld  kernel %.4f ms  libtorch %.4f ms  %.2fx  %s (%.0f GB/s)\n", u.where,
                  dn, (long)u.n, (long)u.c, (long)u.h, (long)u.w, tf, tt, tt / tf, same ? "identical" : "DIFFERENT", gbs);
      json << (first ? "" : ",\n") << "    {\"case\": \"" << u.where << "\", \"dtype\": \"" << dn << "\", \"kernel_ms\": " << tf
           << ", \"libtorch_ms\": " << tt << ", \"identical\": " << (same ? "true" : "false") << "}";
      first = false;
    }
  }
  json << "\n  ],\n  \"ok\": " << (ok ? "true" : "false") << "\n}\n";
  if (argc > 1) std::ofstream(argv[1]) << json.str();
  std::printf(ok ? "all within tolerance\n" : "SOME CASES FAILED\n");
  return ok ? 0 : 1;
}
