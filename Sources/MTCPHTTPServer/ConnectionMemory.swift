import Glibc

/// The per-connection memory of the HTTP server: for every socket slot, a small
/// buffer for response heads built per request (304, 206, 416, errors), a
/// buffer for the head being received (the parsers need it contiguous), and,
/// for proxying, a buffer for the head forwarded to the other side.
///
/// It is one anonymous mapping reserved at start-up for every slot of the socket
/// table but backed by the kernel only where it is touched: a 100-byte request
/// touches one page of its slot, so memory follows the bytes actually received,
/// not `max_concurrency` times the largest allowed head, and nothing is
/// allocated per connection. The owner calls `unmap()` when done.
struct ConnectionMemory {
    let headBytes: Int
    let requestBytes: Int
    let forwardBytes: Int
    private let pageBytes: Int
    private let slotBytes: Int
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int

    init(slots: Int, headBytes: Int, requestBytes: Int, forwardBytes: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        pageBytes = page
        self.headBytes = headBytes
        self.requestBytes = requestBytes
        self.forwardBytes = forwardBytes
        slotBytes = max(page, (headBytes + requestBytes + forwardBytes + page - 1) / page * page)
        mappedBytes = max(slots, 1) * slotBytes
        let mapping = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        precondition(mapping != MAP_FAILED, "cannot reserve \(mappedBytes) bytes of address space")
        base = mapping!
    }

    func unmap() { munmap(base, mappedBytes) }

    /// Where slot `index` builds response heads.
    func head(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + index * slotBytes, count: headBytes)
    }

    /// Where slot `index` receives its request head.
    func request(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + index * slotBytes + headBytes, count: requestBytes)
    }

    /// Where slot `index` builds a head to forward: the request sent upstream
    /// (upstream slots) or the response relayed back (client slots).
    func forward(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + index * slotBytes + headBytes + requestBytes, count: forwardBytes)
    }

    /// Gives a closed connection's pages back to the kernel, so a burst of large
    /// heads or proxied bodies does not keep its memory forever. `touched`: the
    /// most bytes it used of one of its buffers; within a page (a short
    /// exchange) the pages stay, sparing a system call per connection.
    func release(_ index: Int, touched: Int) {
        guard touched > pageBytes else { return }
        madvise(base + index * slotBytes, slotBytes, MADV_DONTNEED)
    }
}
