// The augmentation of E-LatentLPIPS (models/latent_augment.hpp).
#include "latent_augment.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
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

// 3x3 matrices on the host (row-major), for the per-sample transforms: the draws' and the resampling's
// arithmetic is a few dozen numbers a sample, not worth a device kernel each.
using M3 = std::array<double, 9>;
M3 m3(double a, double b, double c, double d, double e, double f) { return {a, b, c, d, e, f, 0, 0, 1}; }
M3 translate(double tx, double ty) { return m3(1, 0, tx, 0, 1, ty); }
M3 scale(double sx, double sy) { return m3(sx, 0, 0, 0, sy, 0); }
M3 rot(double t) { return m3(std::cos(t), -std::sin(t), 0, std::sin(t), std::cos(t), 0); }
M3 operator*(const M3& a, const M3& b) {
  M3 r{};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 3; k++) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return r;
}

// The filter's taps with the gain split over the two axes, reversed unless correlate, on the device and
// in the dtype of o: made once per (device, dtype, gain, direction) and kept, so that no call copies
// from the host (a CUDA graph capture could not).
at::Tensor filter(const at::TensorOptions& o, double gain, bool correlate) {
  static std::mutex mutex;
  static std::map<std::tuple<int, int, int, double, bool>, at::Tensor> made;
  const auto key = std::make_tuple(static_cast<int>(o.device().type()), static_cast<int>(o.device().index()),
                                   static_cast<int>(c10::typeMetaToScalarType(o.dtype())), gain, correlate);
  std::lock_guard<std::mutex> lock(mutex);
  at::Tensor& f = made[key];
  if (!f.defined()) {
    double sum = 0;
    for (double v : kSym6) sum += v;
    std::vector<float> taps(kTaps);
    for (int i = 0; i < kTaps; i++) taps[i] = static_cast<float>(kSym6[correlate ? i : kTaps - 1 - i] / sum * std::sqrt(gain));
    f = at::tensor(taps, at::TensorOptions().dtype(at::kFloat)).to(o.device(), c10::typeMetaToScalarType(o.dtype()));
  }
  return f;
}

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
  at::Tensor f = filter(x.options(), gain, correlate);
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

std::pair<at::Tensor, at::Tensor> augment_pair(const at::Tensor& x0_, const at::Tensor& x1_, const AugmentParams& p,
                                                bool fixed_padding) {
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
  // Both inputs in one pass, as channels [x0 | x1] of one batch; split at the end.
  at::Tensor x = at::cat({x0_, x1_.to(x0_.scalar_type())}, 1);
  if (p.g_inv.defined()) {
    if (p.g_inv.dim() != 3 || p.g_inv.size(0) != b || p.g_inv.size(1) != 3 || p.g_inv.size(2) != 3)
      fail(D2G_INVALID_ARGUMENT, "augment: g_inv must be [", b, ", 3, 3], got ", describe(p.g_inv));
    if (h < 2 || w < 2) fail(D2G_INVALID_ARGUMENT, "augment: a geometric transform needs sides of 2 or more");
    int mx0, my0, mx1, my1;
    at::Tensor theta;
    const int64_t oh = (h + kPad * 2) * 2, ow = (w + kPad * 2) * 2;
    if (fixed_padding) {
      // The most any draw can need (reflection pads less than a side), so that nothing is read back.
      mx0 = mx1 = static_cast<int>(w - 1), my0 = my1 = static_cast<int>(h - 1);
    } else {
      // The transforms on the host: the draw's own copy when it has one, else one wait for the device.
      at::Tensor gh = (p.g_inv_host.defined() ? p.g_inv_host : p.g_inv).to(at::kCPU, at::kFloat).contiguous();
      const float* gv = gh.data_ptr<float>();
      // One reflect padding for the batch: where the corners land, plus the filter's reach (in f32, as
      // the official tensors).
      const float cx = (w - 1) / 2.0f, cy = (h - 1) / 2.0f;
      const float corners[4][2] = {{-cx, -cy}, {cx, -cy}, {cx, cy}, {-cx, cy}};
      float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};  // x0, y0, x1, y1
      for (int64_t i = 0; i < b; i++) {
        const float* g = gv + i * 9;
        for (const auto& cp : corners) {
          const float lx = g[0] * cp[0] + g[1] * cp[1] + g[2], ly = g[3] * cp[0] + g[4] * cp[1] + g[5];
          m[0] = std::max(m[0], -lx), m[1] = std::max(m[1], -ly), m[2] = std::max(m[2], lx), m[3] = std::max(m[3], ly);
        }
      }
      int pads[4];
      for (int i = 0; i < 4; i++) {
        float v = m[i] + static_cast<float>(kPad * 2 - (i % 2 == 0 ? cx : cy));
        v = std::min(std::max(v, 0.0f), static_cast<float>(i % 2 == 0 ? w - 1 : h - 1));
        pads[i] = static_cast<int>(std::ceil(v));
      }
      mx0 = pads[0], my0 = pads[1], mx1 = pads[2], my1 = pads[3];
      // Resampling into the output frame (normalised coordinates, as affine_grid takes them).
      const double up_w = 2.0 * (w + mx0 + mx1), up_h = 2.0 * (h + my0 + my1);  // after the 2x upsampling
      theta = at::empty({b, 2, 3}, at::kFloat);
      float* tv = theta.data_ptr<float>();
      for (int64_t i = 0; i < b; i++) {
        M3 g;
        for (int k = 0; k < 9; k++) g[k] = gv[i * 9 + k];
        g = translate((mx0 - mx1) / 2.0, (my0 - my1) / 2.0) * g;
        g = scale(2, 2) * g * scale(0.5, 0.5);
        g = translate(-0.5, -0.5) * g * translate(0.5, 0.5);
        g = scale(2.0 / up_w, 2.0 / up_h) * g * scale(ow / 2.0, oh / 2.0);
        for (int k = 0; k < 6; k++) tv[i * 6 + k] = static_cast<float>(g[k]);
      }
      theta = theta.to(x.device(), x.scalar_type());
    }
    x = at::reflection_pad2d(x, {mx0, mx1, my0, my1});
    // Upsample 2x (upfirdn2d.upsample2d: pads (12 + 1) / 2 and (12 - 2) / 2, gain 4).
    x = upfirdn(x, 2, 1, (kTaps + 1) / 2, (kTaps - 2) / 2, (kTaps + 1) / 2, (kTaps - 2) / 2, 4.0, false);
    if (fixed_padding) {
      // The same map as above, L g R with L = scale(2 / X, 2 / Y) translate(-1/2, -1/2) scale(2, 2) and
      // R = scale(1/2, 1/2) translate(1/2, 1/2) scale(ow / 2, oh / 2) (X, Y: the upsampled sides; the
      // padding is symmetric), on the device in f32 from scalars: no host data enters the computation.
      const double ax = 4.0 / x.size(3), ay = 4.0 / x.size(2), bx = -1.0 / x.size(3), by = -1.0 / x.size(2);
      const double rx = ow / 4.0, ry = oh / 4.0, t = 0.25;
      at::Tensor g = p.g_inv.to(x.device(), x.scalar_type());
      std::vector<at::Tensor> rows;
      for (int r = 0; r < 2; r++) {
        at::Tensor gr = g.select(1, r);  // [B, 3]
        const double a = r == 0 ? ax : ay, shift = r == 0 ? bx : by;
        at::Tensor g0 = gr.select(1, 0), g1 = gr.select(1, 1), g2 = gr.select(1, 2);
        rows.push_back(at::stack({g0 * (a * rx), g1 * (a * ry), (g0 * t + g1 * t + g2) * a + shift}, 1));
      }
      theta = at::stack(rows, 1);  // [B, 2, 3]
    }
    at::Tensor grid = at::affine_grid_generator(theta, {b, 2 * c, oh, ow}, false);
    x = at::grid_sampler(x, grid, 0, 0, false);
    // Downsample 2x and crop the reach (downsample2d with padding -2 * reach, the filter as given).
    const int d0 = -kPad * 2 + (kTaps - 2 + 1) / 2, d1 = -kPad * 2 + (kTaps - 2) / 2;
    x = upfirdn(x, 1, 2, d0, d1, d0, d1, 1.0, true);
  }
  const int64_t oh = x.size(2), ow = x.size(3);
  auto per = [&](const at::Tensor& u, int64_t dims) {
    std::vector<int64_t> shape(dims, 1);
    shape[0] = b;
    return u.to(x.device(), x.scalar_type()).reshape(shape);
  };
  if (p.brightness.defined()) x = x + (per(p.brightness, 4) - 0.5);
  if (p.contrast.defined() || (p.saturation.defined() && c > 1)) {
    at::Tensor v = x.reshape({b, 2, c, oh, ow});  // each input uses its own means
    if (p.contrast.defined()) {
      at::Tensor mean = v.mean({2, 3, 4}, true);
      v = (v - mean) * (per(p.contrast, 5) + 0.5) + mean;
    }
    if (p.saturation.defined() && c > 1) {
      at::Tensor mean = v.mean(2, true);
      v = (v - mean) * (per(p.saturation, 5) * 2) + mean;
    }
    x = v.reshape({b, 2 * c, oh, ow});
  }
  if (p.cutout_center.defined()) {
    at::Tensor ctr = p.cutout_center.to(x.device(), at::kFloat), size = p.cutout_size.to(x.device(), at::kFloat);
    at::Tensor xs = (at::arange(ow, ctr.options()) + 0.5) / ow, ys = (at::arange(oh, ctr.options()) + 0.5) / oh;
    at::Tensor mx = (xs.view({1, 1, 1, -1}) - ctr.select(1, 0).view({b, 1, 1, 1})).abs() >= size.view({b, 1, 1, 1}) / 2;
    at::Tensor my = (ys.view({1, 1, -1, 1}) - ctr.select(1, 1).view({b, 1, 1, 1})).abs() >= size.view({b, 1, 1, 1}) / 2;
    x = x * at::logical_or(mx, my).to(x.scalar_type());
  }
  // An input that needs no gradient gets none through the other's (the distance then runs the trunk's
  // backward through the one that does only).
  at::Tensor y0 = x.narrow(1, 0, c), y1 = x.narrow(1, c, c);
  return {x0_.requires_grad() ? y0 : y0.detach(), x1_.requires_grad() ? y1 : y1.detach()};
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
  // Every draw of a sample in two calls: its uniforms and its normals, one column each.
  enum { FLIP, QUARTER, TX, TY, ROT_BEFORE, ROT_AFTER, BRIGHTNESS, CONTRAST, SATURATION, CUT_X, CUT_Y, UNIFORMS };
  enum { ISO, ANISO, FX, FY, NORMALS };
  at::Tensor u = at::rand({b, UNIFORMS}, gen, f32);
  AugmentParams p;
  if (blit || geom) {
    at::Tensor n = at::randn({b, NORMALS}, gen, f32);
    // The transform per sample on the host (one wait for the device, which the augmentation's padding
    // needs anyway; augment_pair then reads g_inv_host and waits no more).
    at::Tensor uh = u.to(at::kCPU).contiguous(), nh = n.to(at::kCPU).contiguous();
    const float *uv = uh.data_ptr<float>(), *nv = nh.data_ptr<float>();
    at::Tensor g = at::empty({b, 3, 3}, at::kFloat);
    float* gv = g.data_ptr<float>();
    for (int64_t i = 0; i < b; i++) {
      const float* ui = uv + i * UNIFORMS;
      const float* ni = nv + i * NORMALS;
      M3 m = m3(1, 0, 0, 0, 1, 0);
      if (blit) {
        const double flip = std::floor(ui[FLIP] * 2.0);  // x-flip: scale (1 - 2i, 1) inverted
        m = m * m3(1 / (1 - 2 * flip), 0, 0, 0, 1, 0);
        m = m * rot(std::floor(ui[QUARTER] * 4.0) * (M_PI / 2));  // quarter turns
        const double tx = (ui[TX] * 2.0 - 1) * 0.125, ty = (ui[TY] * 2.0 - 1) * 0.125;  // integer translation
        m = m * translate(-std::nearbyint(tx * w), -std::nearbyint(ty * h));
      }
      if (geom) {
        const double s = std::exp2(ni[ISO] * 0.2);  // isotropic scale
        m = m * scale(1 / s, 1 / s);
        m = m * rot((ui[ROT_BEFORE] * 2.0 - 1) * M_PI);  // rotation before
        const double a = std::exp2(ni[ANISO] * 0.2);  // anisotropic scale
        m = m * scale(1 / a, a);
        m = m * rot((ui[ROT_AFTER] * 2.0 - 1) * M_PI);  // rotation after
        m = m * translate(-ni[FX] * 0.125 * w, -ni[FY] * 0.125 * h);  // fractional translation
      }
      for (int k = 0; k < 9; k++) gv[i * 9 + k] = static_cast<float>(m[k]);
    }
    p.g_inv_host = g;
    p.g_inv = g.to(device);
  }
  if (colour) {
    p.brightness = u.select(1, BRIGHTNESS);
    p.contrast = u.select(1, CONTRAST);
    if (c > 1) p.saturation = u.select(1, SATURATION);
  }
  if (cut) {
    p.cutout_center = u.slice(1, CUT_X, CUT_Y + 1);
    p.cutout_size = at::full({b}, 0.5, f32);
  }
  return p;
}

}  // namespace d2g::lpips
