//! Page-aligned I/O buffers, filled once with random bytes so writes carry incompressible data.

use std::alloc::Layout;
use std::ptr::NonNull;

use anyhow::Context as _;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The size and alignment of one queue slot's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Bytes per slot: the largest block size, rounded up to the alignment so that every slot
    /// of a contiguous region starts aligned.
    pub stride: usize,
    pub align: usize,
}

impl Shape {
    /// Direct I/O needs `memory_alignment`; a page is asked for in any case, which also keeps
    /// buffered copies on the kernel's fast path.
    pub fn new(largest_block: u64, memory_alignment: u64) -> Self {
        let align = memory_alignment.max(4096).next_power_of_two() as usize;
        let stride = (largest_block as usize).div_ceil(align) * align;
        Shape { stride, align }
    }
}

/// One allocation holding `slots` buffers of `shape.stride` bytes each.
pub(crate) struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer is plain memory owned by this value; moving it to another thread moves
// that ownership. Sharing happens only with the kernel, under the rules in `uring`.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    pub fn new(shape: Shape, slots: usize) -> anyhow::Result<Self> {
        let len = shape
            .stride
            .checked_mul(slots)
            .context("buffer size overflows")?;
        let layout = Layout::from_size_align(len.max(1), shape.align)
            .context("buffer layout is not valid")?;
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw)
            .with_context(|| format!("cannot allocate {len} bytes of I/O buffers"))?;
        let mut buf = AlignedBuf { ptr, layout };
        SmallRng::seed_from_u64(len as u64).fill_bytes(buf.as_mut_slice());
        Ok(buf)
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.layout.size()
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` points to `layout.size()` initialized (zeroed) bytes owned by this
        // value, and `&mut self` makes this the only reference to them.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout, and freed only here.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_and_large_enough() {
        let shape = Shape::new(5000, 512);
        assert_eq!((shape.stride, shape.align), (8192, 4096));
        let mut buf = AlignedBuf::new(shape, 3).unwrap();
        assert_eq!(buf.as_mut_ptr() as usize % 4096, 0);
        assert_eq!(buf.len(), 3 * 8192);
    }
}
