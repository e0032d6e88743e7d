// The augmentation of E-LatentLPIPS (models/latent_augment.hpp).
#include "latent_augment.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/status.hpp"
#include "../core/tensor.hpp"

namespace d2g::lpips {
namespace {

// The sym6 wavelet's lowpass filter, as the official pipeline uses it (normalised to sum 1 below).
const double kSym6[12] = {0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
                          0.4910559419267466,   0.787641141030194,     0.3379294217276218,  -0.07263752278646252,
                          -0.021060292512300564, 0.04472490177066578,  0.0017677118642428036, -0.007800708325034148};
constexpr int kTaps = 12, kPad = kTaps / 4;  // the filter's reach in the padding (Hz_pad)

at::Tensor mat3(const at::Tensor& like, double a, double b, double c, double d, double e, double f) {
  return at::tensor({a, b, c, d, e, f, 0.0, 0.0, 1.0}, like.options().dtype(at::kFloat)).view({3, 3});
}
at::Tensor translate(const at::Tensor& like, double tx, double ty) { return mat3(like, 1, 0, tx, 0, 1, ty); }
at::Tensor scale(const at::Tensor& like, double sx, double sy) { return mat3(like, sx, 0, 0, 0, sy, 0); }

// The separable filter applied along both axes of [B, C, H, W] (a depthwise convolution each), after
// zero-insertion upsampling by up and padding (negative: cropping), then keeping every down-th sample:
// the upfirdn2d of StyleGAN2's reference implementation. correlate: the filter as given (flip_filter).
at::Tensor upfirdn(at::Tensor x, int up, int down, int px0, int px1, int py0, int py1, double gain, bool correlate) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (up > 1) {
    x = x.reshape({b, c, h, 1, w, 1});
    x = at::constant_pad_nd(x, {0, up - 1, 0, 0, 0, up - 1}, 0);
    x = x.reshape({b, c, h * up, w * up});
  }
  x = at::constant_pad_nd(x, {std::max(px0, 0), std::max(px1, 0), std::max(py0, 0), std::max(py1, 0)}, 0);
  x = x.slice(2, std::max(-py0, 0), x.size(2) - std::max(-py1, 0)).slice(3, std::max(-px0, 0), x.size(3) - std::max(-px1, 0));
  static const std::vector<double> unit = [] {  // the filter normalised to sum 1, once
    double sum = 0;
    for (double v : kSym6) sum += v;
    std::vector<double> u(kTaps);
    for (int i = 0; i < kTaps; i++) u[i] = kSym6[i] / sum;
    return u;
  }();
  std::vector<float> taps(kTaps);
  for (int i = 0; i < kTaps; i++)  // the gain split over the two axes
    taps[i] = static_cast<float>(unit[correlate ? i : kTaps - 1 - i] * std::sqrt(gain));
  at::Tensor f = at::tensor(taps, x.options().dtype(at::kFloat)).to(x.scalar_type());
  at::Tensor fx = f.view({1, 1, 1, kTaps}).repeat({c, 1, 1, 1}), fy = f.view({1, 1, kTaps, 1}).repeat({c, 1, 1, 1});
  const std::vector<int64_t> one{1, 1}, none{0, 0};
  x = at::conv2d(x, fx, at::Tensor(), one, none, one, c);
  x = at::conv2d(x, fy, at::Tensor(), one, none, one, c);
  if (down > 1) x = x.slice(2, 0, x.size(2), down).slice(3, 0, x.size(3), down);
  return x;
}

void check_draws(const at::Tensor& t, int64_t b, const char* what, int64_t cols = 0) {
  if (!t.defined()) return;
  const bool ok = cols == 0 ? (t.dim() == 1 && t.size(0) == b) : (t.dim() == 2 && t.size(0) == b && t.size(1) == cols);
  if (!ok || !t.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "augment: ", what, " must be floating [", b, cols ? ", " + std::to_string(cols) : "",
         "], got ", describe(t));
}

}  // namespace

std::pair<at::Tensor, at::Tensor> augment_pair(const at::Tensor& x0_, const at::Tensor& x1_, const AugmentParams& p) {
  if (!x0_.defined() || !x1_.defined() || x0_.dim() != 4 || !x0_.sizes().equals(x1_.sizes()) || !x0_.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "augment: the inputs must be two floating [B, C, H, W] of one shape, got ",
         x0_.defined() ? describe(x0_) : std::string("nothing"), " and ", x1_.defined() ? describe(x1_) : std::string("nothing"));
  same_device(x0_, x1_, "augment");
  const int64_t b = x0_.size(0), c = x0_.size(1), h = x0_.size(2), w = x0_.size(3);
  check_draws(p.brightness, b, "brightness");
  check_draws(p.contrast, b, "contrast");
  check_draws(p.saturation, b, "saturation");
  check_draws(p.cutout_size, b, "cutout_size");
  check_draws(p.cutout_center, b, "cutout_center", 2);
  if (p.cutout_center.defined() != p.cutout_size.defined())
    fail(D2G_INVALID_ARGUMENT, "augment: cutout needs both its centre and its size");
  at::Tensor x0 = x0_, x1 = x1_;
  if (p.g_inv.defined()) {
    if (p.g_inv.dim() != 3 || p.g_inv.size(0) != b || p.g_inv.size(1) != 3 || p.g_inv.size(2) != 3)
      fail(D2G_INVALID_ARGUMENT, "augment: g_inv must be [", b, ", 3, 3], got ", describe(p.g_inv));
    if (h < 2 || w < 2) fail(D2G_INVALID_ARGUMENT, "augment: a geometric transform needs sides of 2 or more");
    at::Tensor g = p.g_inv.to(x0.device(), at::kFloat);
    // One reflect padding for the batch: where the corners land, plus the filter's reach.
    const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
    at::Tensor cp = at::tensor({-cx, -cy, 1.0, cx, -cy, 1.0, cx, cy, 1.0, -cx, cy, 1.0}, g.options()).view({4, 3});
    at::Tensor land = at::matmul(g, cp.t()).slice(1, 0, 2).permute({1, 0, 2}).flatten(1);  // [xy, B * 4]
    at::Tensor m = at::cat({-land, land}).amax(1).cpu();                                   // x0, y0, x1, y1
    const float* mv = m.data_ptr<float>();
    int pads[4];
    for (int i = 0; i < 4; i++) {
      float v = mv[i] + static_cast<float>(kPad * 2 - (i % 2 == 0 ? cx : cy));  // in f32, as the official tensors
      v = std::min(std::max(v, 0.0f), static_cast<float>(i % 2 == 0 ? w - 1 : h - 1));
      pads[i] = static_cast<int>(std::ceil(v));
    }
    const int mx0 = pads[0], my0 = pads[1], mx1 = pads[2], my1 = pads[3];
    x0 = at::reflection_pad2d(x0, {mx0, mx1, my0, my1});
    x1 = at::reflection_pad2d(x1, {mx0, mx1, my0, my1});
    g = at::matmul(translate(g, (mx0 - mx1) / 2.0, (my0 - my1) / 2.0), g);
    // Upsample 2x (upfirdn2d.upsample2d: pads (12 + 1) / 2 and (12 - 2) / 2, gain 4).
    x0 = upfirdn(x0, 2, 1, (kTaps + 1) / 2, (kTaps - 2) / 2, (kTaps + 1) / 2, (kTaps - 2) / 2, 4.0, false);
    x1 = upfirdn(x1, 2, 1, (kTaps + 1) / 2, (kTaps - 2) / 2, (kTaps + 1) / 2, (kTaps - 2) / 2, 4.0, false);
    g = at::matmul(at::matmul(scale(g, 2, 2), g), scale(g, 0.5, 0.5));
    g = at::matmul(at::matmul(translate(g, -0.5, -0.5), g), translate(g, 0.5, 0.5));
    // Resample into the output frame (normalised coordinates, as affine_grid takes them).
    const int64_t oh = (h + kPad * 2) * 2, ow = (w + kPad * 2) * 2;
    g = at::matmul(at::matmul(scale(g, 2.0 / x0.size(3), 2.0 / x0.size(2)), g), scale(g, ow / 2.0, oh / 2.0));
    at::Tensor grid = at::affine_grid_generator(g.slice(1, 0, 2).to(x0.scalar_type()), {b, c, oh, ow}, false);
    x0 = at::grid_sampler(x0, grid, 0, 0, false);
    x1 = at::grid_sampler(x1, grid, 0, 0, false);
    // Downsample 2x and crop the reach (downsample2d with padding -2 * reach, the filter as given).
    const int d0 = -kPad * 2 + (kTaps - 2 + 1) / 2, d1 = -kPad * 2 + (kTaps - 2) / 2;
    x0 = upfirdn(x0, 1, 2, d0, d1, d0, d1, 1.0, true);
    x1 = upfirdn(x1, 1, 2, d0, d1, d0, d1, 1.0, true);
  }
  auto per = [&](const at::Tensor& u, const at::Tensor& like) { return u.to(like.device(), like.scalar_type()).view({b, 1, 1, 1}); };
  if (p.brightness.defined()) {
    at::Tensor u = per(p.brightness, x0) - 0.5;
    x0 = x0 + u;
    x1 = x1 + u;
  }
  if (p.contrast.defined()) {
    at::Tensor u = per(p.contrast, x0) + 0.5;
    at::Tensor m0 = x0.mean({1, 2, 3}, true), m1 = x1.mean({1, 2, 3}, true);
    x0 = (x0 - m0) * u + m0;
    x1 = (x1 - m1) * u + m1;
  }
  if (p.saturation.defined() && c > 1) {
    at::Tensor u = per(p.saturation, x0) * 2;
    at::Tensor m0 = x0.mean(1, true), m1 = x1.mean(1, true);
    x0 = (x0 - m0) * u + m0;
    x1 = (x1 - m1) * u + m1;
  }
  if (p.cutout_center.defined()) {
    const int64_t oh = x0.size(2), ow = x0.size(3);
    at::Tensor ctr = p.cutout_center.to(x0.device(), at::kFloat), size = p.cutout_size.to(x0.device(), at::kFloat);
    at::Tensor xs = (at::arange(ow, ctr.options()) + 0.5) / ow, ys = (at::arange(oh, ctr.options()) + 0.5) / oh;
    at::Tensor mx = (xs.view({1, 1, 1, -1}) - ctr.select(1, 0).view({b, 1, 1, 1})).abs() >= size.view({b, 1, 1, 1}) / 2;
    at::Tensor my = (ys.view({1, 1, -1, 1}) - ctr.select(1, 1).view({b, 1, 1, 1})).abs() >= size.view({b, 1, 1, 1}) / 2;
    at::Tensor mask = at::logical_or(mx, my).to(x0.scalar_type());
    x0 = x0 * mask;
    x1 = x1 * mask;
  }
  return {x0, x1};
}

AugmentParams draw_params(const std::string& preset, int64_t b, int64_t c, int64_t h, int64_t w,
                          const at::Device& device, c10::optional<at::Generator> gen) {
  static const char* kPresets[] = {"b", "g", "c", "o", "co", "bg", "bgc", "bgco"};
  bool known = false;
  for (const char* k : kPresets) known = known || preset == k;
  if (!known) fail(D2G_INVALID_ARGUMENT, "augment: unknown preset '", preset, "' (b, g, c, o, co, bg, bgc, bgco)");
  if (b < 1) fail(D2G_INVALID_ARGUMENT, "augment: a batch needs at least one sample");
  const bool blit = preset.find('b') != std::string::npos, geom = preset.find('g') != std::string::npos;
  const bool colour = preset.find('c') != std::string::npos, cut = preset.find('o') != std::string::npos;
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  auto rand = [&](at::IntArrayRef size) { return at::rand(size, gen, f32); };
  auto randn = [&](at::IntArrayRef size) { return at::randn(size, gen, f32); };
  // Batched 3x3 matrices from their six free entries, each [B].
  auto m3 = [&](const at::Tensor& a, const at::Tensor& bb, const at::Tensor& cc, const at::Tensor& d, const at::Tensor& e,
                const at::Tensor& f) {
    at::Tensor z = at::zeros({b}, f32), o = at::ones({b}, f32);
    return at::stack({a, bb, cc, d, e, f, z, z, o}, 1).view({b, 3, 3});
  };
  auto zeros = [&]() { return at::zeros({b}, f32); };
  auto ones = [&]() { return at::ones({b}, f32); };
  auto rot = [&](const at::Tensor& t) { return m3(at::cos(t), -at::sin(t), zeros(), at::sin(t), at::cos(t), zeros()); };
  AugmentParams p;
  if (blit || geom) {
    at::Tensor g = at::eye(3, f32).expand({b, 3, 3}).contiguous();
    if (blit) {
      at::Tensor flip = at::floor(rand({b}) * 2);  // x-flip: scale (1 - 2i, 1) inverted
      g = at::matmul(g, m3(1 / (1 - 2 * flip), zeros(), zeros(), zeros(), ones(), zeros()));
      at::Tensor quarter = at::floor(rand({b}) * 4);  // quarter turns
      g = at::matmul(g, rot(quarter * (M_PI / 2)));
      at::Tensor t = (rand({b, 2}) * 2 - 1) * 0.125;  // integer translation
      g = at::matmul(g, m3(ones(), zeros(), -at::round(t.select(1, 0) * w), zeros(), ones(), -at::round(t.select(1, 1) * h)));
    }
    if (geom) {
      at::Tensor s = at::exp2(randn({b}) * 0.2);  // isotropic scale
      g = at::matmul(g, m3(1 / s, zeros(), zeros(), zeros(), 1 / s, zeros()));
      g = at::matmul(g, rot((rand({b}) * 2 - 1) * M_PI));  // rotation before
      at::Tensor a = at::exp2(randn({b}) * 0.2);  // anisotropic scale
      g = at::matmul(g, m3(1 / a, zeros(), zeros(), zeros(), a, zeros()));
      g = at::matmul(g, rot((rand({b}) * 2 - 1) * M_PI));  // rotation after
      at::Tensor t = randn({b, 2}) * 0.125;  // fractional translation
      g = at::matmul(g, m3(ones(), zeros(), -t.select(1, 0) * w, zeros(), ones(), -t.select(1, 1) * h));
    }
    p.g_inv = g;
  }
  if (colour) {
    p.brightness = rand({b});
    p.contrast = rand({b});
    if (c > 1) p.saturation = rand({b});
  }
  if (cut) {
    p.cutout_center = rand({b, 2});
    p.cutout_size = at::full({b}, 0.5, f32);
  }
  return p;
}

}  // namespace d2g::lpips
