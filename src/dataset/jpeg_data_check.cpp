// libjpeg's compressed-data check (see jpeg_data_check.h). libjpeg reports fatal errors through
// error_exit, which must not return: the usual setjmp/longjmp, with nothing in this frame
// that has a destructor changed between the two (the row buffer comes from libjpeg's own pool).
#include "dataset/jpeg_data_check.h"

#include <fmt/format.h>

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>

namespace lathe {
namespace {

struct QuietErrors {
  jpeg_error_mgr pub;  // first, so libjpeg's j_common_ptr->err casts to QuietErrors*
  std::jmp_buf fatal;
  char error[JMSG_LENGTH_MAX] = {};
  char first_warning[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void keep_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<QuietErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->error);
  std::longjmp(errors->fatal, 1);
}

// Level -1 is a warning (corrupt data); levels 0 and up are trace messages.
void keep_first_warning(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  auto* errors = reinterpret_cast<QuietErrors*>(cinfo->err);
  if (errors->pub.num_warnings++ == 0) (*cinfo->err->format_message)(cinfo, errors->first_warning);
}

}  // namespace

std::string jpeg_data_problem(const unsigned char* bytes, std::size_t size) {
  jpeg_decompress_struct cinfo{};
  QuietErrors errors;
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = keep_error;
  errors.pub.emit_message = keep_first_warning;
  if (setjmp(errors.fatal)) {
    jpeg_destroy_decompress(&cinfo);
    return fmt::format("libjpeg cannot decode it: {}", errors.error);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.scale_num = 1;
  cinfo.scale_denom = 8;
  cinfo.dct_method = JDCT_IFAST;
  cinfo.do_fancy_upsampling = FALSE;
  jpeg_start_decompress(&cinfo);
  JSAMPARRAY row = (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE,
                                              cinfo.output_width * cinfo.output_components, 1);
  while (cinfo.output_scanline < cinfo.output_height) jpeg_read_scanlines(&cinfo, row, 1);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (errors.pub.num_warnings == 0) return {};
  return fmt::format("libjpeg reports damaged data: {}", errors.first_warning);
}

}  // namespace lathe
