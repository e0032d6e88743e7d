/** The jextract-generated bindings of native/include/d2g.h: for the d2g library's own glue only. */
module io.d2g.bindings {
  exports io.d2g.bindings to io.d2g;
}
