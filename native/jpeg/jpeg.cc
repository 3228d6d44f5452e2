// JPEG decoding straight through the system's libjpeg-turbo, for the data loader's common case:
// sharp spends ~1.3 CPU-ms on a 400×300 JPEG that libjpeg-turbo decodes in ~0.5, and a region
// decode (jpeg_crop_scanline, jpeg_skip_scanlines) does the IDCT and colour conversion for the
// pixels a random crop keeps only. A separate addon from the libtorch one, so loader workers and
// processes without libtorch can load it.
//
// header(buf) -> [width, height, components, colourSpace, flags] (flags: 1 ICC profile,
//   2 EXIF orientation other than 1, 4 Adobe marker, 8 progressive)
// decode(buf, x, y, w, h, maxPixels, scaleDenom) -> { data, width, height, x, y }: RGB rows
//   covering the region asked for (columns widened to the iMCU grid; x, y where the rows start)
//   of the image scaled by 1/scaleDenom (1, 2, 4, 8: DCT scaling), every libjpeg warning an
//   error, as libvips' failOn: 'warning' does. w = 0 decodes the whole image.
// decodeAsync(...) the same on the libuv thread pool, as a Promise.
#include <napi.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include <jpeglib.h>
#include <jerror.h>
}

namespace {

struct ErrorMgr {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void onError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorMgr*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  longjmp(err->jump, 1);
}

// A warning (corrupt data, premature end) fails the decode, as libvips' failOn: 'warning' does;
// trace messages (msg_level > 0) are ignored.
void onMessage(j_common_ptr cinfo, int level) {
  if (level < 0) onError(cinfo);
}

struct Header {
  int width = 0, height = 0, components = 0, colourSpace = 0, flags = 0;
};

// EXIF orientation from an APP1 marker: 1 (upright) when absent or unreadable.
int exifOrientation(const JOCTET* d, unsigned n) {
  if (n < 14 || std::memcmp(d, "Exif\0\0", 6) != 0) return 1;
  const JOCTET* t = d + 6;
  n -= 6;
  const bool le = t[0] == 'I';
  auto u16 = [&](unsigned o) -> unsigned { return le ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]; };
  auto u32 = [&](unsigned o) -> unsigned { return le ? u16(o) | (u16(o + 2) << 16) : (u16(o) << 16) | u16(o + 2); };
  const unsigned ifd = u32(4);
  if (ifd + 2 > n) return 1;
  const unsigned count = u16(ifd);
  for (unsigned i = 0; i < count && ifd + 2 + 12 * (i + 1) <= n; i++) {
    const unsigned e = ifd + 2 + 12 * i;
    if (u16(e) == 0x0112) return static_cast<int>(u16(e + 8));
  }
  return 1;
}

void readHeader(jpeg_decompress_struct* cinfo, Header* h) {
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_save_markers(cinfo, JPEG_APP0 + 2, 0xffff);
  jpeg_read_header(cinfo, TRUE);
  h->width = static_cast<int>(cinfo->image_width);
  h->height = static_cast<int>(cinfo->image_height);
  h->components = cinfo->num_components;
  h->colourSpace = cinfo->jpeg_color_space;
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 && std::memcmp(m->data, "ICC_PROFILE", 12) == 0) h->flags |= 1;
    if (m->marker == JPEG_APP0 + 1 && exifOrientation(m->data, m->data_length) != 1) h->flags |= 2;
  }
  if (cinfo->saw_Adobe_marker) h->flags |= 4;
  if (cinfo->progressive_mode) h->flags |= 8;
}

struct Decoded {
  unsigned char* data = nullptr;
  int width = 0, height = 0, x = 0, y = 0;
  std::string error;
};

// Plain C control flow between setjmp and every libjpeg call: longjmp skips no destructors.
void decodeInto(const unsigned char* bytes, size_t size, int x, int y, int w, int h, double maxPixels, int denom, Decoded* out) {
  jpeg_decompress_struct cinfo;
  ErrorMgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = onError;
  err.pub.emit_message = onMessage;
  // volatile: read after longjmp.
  unsigned char* volatile data = nullptr;
  if (setjmp(err.jump)) {
    std::free(data);
    jpeg_destroy_decompress(&cinfo);
    out->data = nullptr;
    out->error = err.message;
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const int W = static_cast<int>(cinfo.image_width), H = static_cast<int>(cinfo.image_height);
  if (static_cast<double>(W) * H > maxPixels) {
    jpeg_destroy_decompress(&cinfo);
    out->error = "exceeds pixel limit";
    return;
  }
  cinfo.out_color_space = JCS_RGB;
  // DCT scaling: the IDCT itself makes the 1/2, 1/4 or 1/8 image, for a fraction of the work.
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(denom);
  jpeg_calc_output_dimensions(&cinfo);
  const int Wo = static_cast<int>(cinfo.output_width), Ho = static_cast<int>(cinfo.output_height);
  if (w <= 0 || h <= 0) x = 0, y = 0, w = Wo, h = Ho;
  if (x < 0 || y < 0 || x + w > Wo || y + h > Ho) {
    jpeg_destroy_decompress(&cinfo);
    out->error = "region outside the image";
    return;
  }
  jpeg_start_decompress(&cinfo);
  JDIMENSION cx = static_cast<JDIMENSION>(x), cw = static_cast<JDIMENSION>(w);
  if (cw < cinfo.output_width) jpeg_crop_scanline(&cinfo, &cx, &cw);
  const size_t stride = static_cast<size_t>(cinfo.output_width) * 3;
  data = static_cast<unsigned char*>(std::malloc(stride * static_cast<size_t>(h)));
  if (!data) {
    jpeg_destroy_decompress(&cinfo);
    out->error = "out of memory";
    return;
  }
  if (y > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(y));
  for (int r = 0; r < h;) {
    JSAMPROW row = data + static_cast<size_t>(r) * stride;
    const JDIMENSION got = jpeg_read_scanlines(&cinfo, &row, 1);
    // A memory source never suspends; a decoder that gives no row would otherwise spin here.
    if (got == 0) ERREXIT(&cinfo, JERR_INPUT_EMPTY);
    r += static_cast<int>(got);
  }
  // The rows below the region are still entropy-decoded (no IDCT): corrupt or missing data
  // anywhere in the file fails the decode, whichever region is asked for.
  if (cinfo.output_scanline < cinfo.output_height) jpeg_skip_scanlines(&cinfo, cinfo.output_height - cinfo.output_scanline);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  *out = {data, static_cast<int>(cw), h, static_cast<int>(cx), y, {}};
}

Napi::Object toObject(Napi::Env env, Decoded& d) {
  auto obj = Napi::Object::New(env);
  auto* data = d.data;
  d.data = nullptr;
  const size_t n = static_cast<size_t>(d.width) * d.height * 3;
  obj.Set("data", Napi::Buffer<unsigned char>::New(env, data, n, [](Napi::Env, unsigned char* p) { std::free(p); }));
  obj.Set("width", d.width);
  obj.Set("height", d.height);
  obj.Set("x", d.x);
  obj.Set("y", d.y);
  return obj;
}

struct Args {
  Napi::Buffer<unsigned char> buf;
  int x, y, w, h;
  double maxPixels;
  int denom;
};

Args args(const Napi::CallbackInfo& info) {
  if (info.Length() < 7 || !info[0].IsBuffer()) throw Napi::TypeError::New(info.Env(), "decode(buffer, x, y, w, h, maxPixels, scaleDenom)");
  auto n = [&](size_t i) { return info[i].As<Napi::Number>().Int32Value(); };
  const int denom = n(6);
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8) throw Napi::RangeError::New(info.Env(), "scaleDenom must be 1, 2, 4 or 8");
  return {info[0].As<Napi::Buffer<unsigned char>>(), n(1), n(2), n(3), n(4), info[5].As<Napi::Number>().DoubleValue(), denom};
}

Napi::Value HeaderJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(info.Env(), "header(buffer)");
  auto buf = info[0].As<Napi::Buffer<unsigned char>>();
  jpeg_decompress_struct cinfo;
  ErrorMgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = onError;
  err.pub.emit_message = onMessage;
  Header h;
  bool failed = false;
  if (setjmp(err.jump)) {
    failed = true;
  } else {
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf.Data(), static_cast<unsigned long>(buf.Length()));
    readHeader(&cinfo, &h);
  }
  jpeg_destroy_decompress(&cinfo);
  if (failed) throw Napi::Error::New(info.Env(), err.message);
  auto arr = Napi::Array::New(info.Env(), 5);
  int v[5] = {h.width, h.height, h.components, h.colourSpace, h.flags};
  for (uint32_t i = 0; i < 5; i++) arr.Set(i, v[i]);
  return arr;
}

Napi::Value DecodeJs(const Napi::CallbackInfo& info) {
  Args a = args(info);
  Decoded d;
  decodeInto(a.buf.Data(), a.buf.Length(), a.x, a.y, a.w, a.h, a.maxPixels, a.denom, &d);
  if (!d.error.empty()) throw Napi::Error::New(info.Env(), d.error);
  return toObject(info.Env(), d);
}

class DecodeWorker : public Napi::AsyncWorker {
 public:
  DecodeWorker(Napi::Env env, Args a) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), a_(a) {
    ref_ = Napi::Persistent(a.buf);
  }
  ~DecodeWorker() override { std::free(d_.data); }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { decodeInto(a_.buf.Data(), a_.buf.Length(), a_.x, a_.y, a_.w, a_.h, a_.maxPixels, a_.denom, &d_); }
  void OnOK() override {
    if (d_.error.empty()) deferred_.Resolve(toObject(Env(), d_));
    else deferred_.Reject(Napi::Error::New(Env(), d_.error).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Args a_;
  Napi::Reference<Napi::Buffer<unsigned char>> ref_;
  Decoded d_;
};

Napi::Value DecodeAsyncJs(const Napi::CallbackInfo& info) {
  auto* w = new DecodeWorker(info.Env(), args(info));
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("header", Napi::Function::New(env, HeaderJs));
  exports.Set("decode", Napi::Function::New(env, DecodeJs));
  exports.Set("decodeAsync", Napi::Function::New(env, DecodeAsyncJs));
  exports.Set("libjpegVersion", Napi::Number::New(env, LIBJPEG_TURBO_VERSION_NUMBER));
  return exports;
}

}  // namespace

NODE_API_MODULE(kestrel_jpeg, Init)
