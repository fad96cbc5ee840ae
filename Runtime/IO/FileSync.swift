import CURing
#if canImport(Glibc)
import Glibc
#endif

/// An asynchronous fsync/fdatasync through io_uring: the loop keeps serving while the disk works.
///
/// Threading: start on the loop; `completion` runs there with 0 or a negative errno.
public final class FileSync: IOHandler {
    private let loop: Loop
    private var id: HandlerID!
    private let completion: (Int32) -> Void

    /// Submits `fdatasync(fd)` (or a full `fsync` when `dataOnly` is false).
    @discardableResult
    public static func start(loop: Loop, fd: Int32, dataOnly: Bool = true,
                             completion: @escaping (Int32) -> Void) -> FileSync {
        let operation = FileSync(loop: loop, completion: completion)
        operation.id = loop.register(operation)
        let sqe = loop.nextSQE()
        io_uring_prep_fsync(sqe, fd, dataOnly ? curing_fsync_datasync : 0)
        io_uring_sqe_set_data64(sqe, operation.id.token(.fsync).userData)
        return operation
    }

    private init(loop: Loop, completion: @escaping (Int32) -> Void) {
        self.loop = loop
        self.completion = completion
    }

    public func ioCompleted(_ operation: IOOperation, result: Int32, flags: UInt32, buffer: UnsafeRawBufferPointer?) {
        loop.unregister(id)
        completion(result)
    }
}
