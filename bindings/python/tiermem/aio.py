"""tiermem.aio: DeepNVMe's aio_handle, over tiermem.FileIo, for switching in an afternoon.

DeepSpeed code such as::

    h = AsyncIOBuilder().load().aio_handle(block_size, queue_depth, single_submit,
                                          overlap_events, intra_op_parallelism)
    buffer = h.new_cpu_locked_tensor(n, torch.empty(0, dtype=torch.float16))
    h.async_pread(buffer, "/nvme/shard.bin")
    assert h.wait() == 1

runs unchanged with ``h = tiermem.aio.aio_handle(...)``. What differs, on purpose: every
request's completion is checked, and a failed request raises tiermem.IoError (from the sync
call, or from wait() once every pending request has ended) instead of a status to ignore;
unaligned sizes and offsets are read and written whole under O_DIRECT; locked tensors come
from a pool that grows as needed (no "not enough buffers"). For one handle per request, use
tiermem.FileIo directly: its pread_async returns an IoRequest of its own.
"""

import threading as _threading

from tiermem._tiermem import FileIo


class aio_handle:  # noqa: N801 - DeepNVMe's name
    """DeepNVMe's aio_handle. single_submit and overlap_events are accepted and ignored (the
    io_uring engine batches submissions and overlaps completions on its own);
    intra_op_parallelism is the number of rings. Thread safety: any method from any thread."""

    def __init__(self, block_size=1 << 20, queue_depth=128, single_submit=False,
                 overlap_events=True, intra_op_parallelism=1):
        self._block_size = block_size
        self._queue_depth = queue_depth
        self._single_submit = single_submit
        self._overlap_events = overlap_events
        self._threads = intra_op_parallelism
        self._io = FileIo({"block_size": block_size, "queue_depth": queue_depth,
                           "threads": intra_op_parallelism})
        self._lock = _threading.Lock()
        self._pending = []

    def get_block_size(self):
        return self._block_size

    def get_queue_depth(self):
        return self._queue_depth

    def get_single_submit(self):
        return self._single_submit

    def get_overlap_events(self):
        return self._overlap_events

    def get_intra_op_parallelism(self):
        return self._threads

    def sync_pread(self, buffer, filename, file_offset=0):
        """Fills buffer (a torch tensor, NumPy array or other buffer) from filename at
        file_offset; returns 1 (one operation done) or raises tiermem.IoError."""
        with self._io.open(filename, "r") as file:
            file.pread(buffer, file_offset)
        return 1

    def sync_pwrite(self, buffer, filename, file_offset=0):
        """Writes buffer to filename (created when missing) at file_offset; returns 1."""
        with self._io.open(filename, "w") as file:
            file.pwrite(buffer, file_offset)
        return 1

    def async_pread(self, buffer, filename, file_offset=0):
        """Starts a read; wait() ends it. Returns 0 (submitted)."""
        request = self._io.open(filename, "r").pread_async(buffer, file_offset)
        with self._lock:
            self._pending.append(request)
        return 0

    def async_pwrite(self, buffer, filename, file_offset=0):
        """Starts a write; wait() ends it. Returns 0 (submitted)."""
        request = self._io.open(filename, "w").pwrite_async(buffer, file_offset)
        with self._lock:
            self._pending.append(request)
        return 0

    def read(self, buffer, filename, validate=False):
        """DeepNVMe's read: sync_pread of the whole file (validate is implied)."""
        return self.sync_pread(buffer, filename)

    def write(self, buffer, filename, validate=False):
        """DeepNVMe's write: sync_pwrite at offset 0."""
        return self.sync_pwrite(buffer, filename)

    def pread(self, buffer, filename, validate=False, async_op=False, file_offset=0):
        """DeepNVMe's pread: async_pread when async_op, else sync_pread."""
        if async_op:
            return self.async_pread(buffer, filename, file_offset)
        return self.sync_pread(buffer, filename, file_offset)

    def pwrite(self, buffer, filename, validate=False, async_op=False, file_offset=0):
        """DeepNVMe's pwrite: async_pwrite when async_op, else sync_pwrite."""
        if async_op:
            return self.async_pwrite(buffer, filename, file_offset)
        return self.sync_pwrite(buffer, filename, file_offset)

    def wait(self):
        """Waits for every request started so far (the GIL released) and returns how many
        ended. Raises the first failed request's tiermem.IoError after all have ended."""
        with self._lock:
            pending, self._pending = self._pending, []
        first_error = None
        for request in pending:
            try:
                request.result()
            except Exception as error:  # every request is waited for before raising
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return len(pending)

    def new_cpu_locked_tensor(self, num_elem, example_tensor):
        """A 1-D torch tensor of num_elem elements of example_tensor's dtype, page-locked."""
        from tiermem import locked_tensor

        return locked_tensor(num_elem, example_tensor.dtype)

    def free_cpu_locked_tensor(self, tensor):
        """Nothing to do: the memory goes back to tiermem's locked pool when the tensor is
        freed. Returns True, as DeepNVMe's does."""
        return True
