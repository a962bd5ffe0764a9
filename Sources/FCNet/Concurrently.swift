#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two pieces of work at once: one on a thread of its own, one on the calling thread.
public enum Concurrently {
    /// Runs `first` on a new thread and `second` on the calling thread, and returns both
    /// results once both are done. `second` may wait for progress of `first` (never the
    /// other way round): `first` always has a thread of its own.
    public static func run<A, B>(_ first: () throws -> A, _ second: () throws -> B) -> (Result<A, Error>, Result<B, Error>) {
        var firstResult: Result<A, Error>?
        let secondResult: Result<B, Error> = withoutActuallyEscaping(first) { first in
            let work = Work { firstResult = Result { try first() } }
            let context = Unmanaged.passRetained(work).toOpaque()
            #if canImport(Darwin)
            var thread: pthread_t?
            let started = pthread_create(&thread, nil, { context in
                Unmanaged<Work>.fromOpaque(context).takeRetainedValue().body()
                return nil
            }, context)
            #else
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { context in
                Unmanaged<Work>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, context)
            #endif
            guard started == 0 else {
                // No thread to be had: one after the other.
                Unmanaged<Work>.fromOpaque(context).release()
                work.body()
                return Result { try second() }
            }
            let result = Result { try second() }
            #if canImport(Darwin)
            pthread_join(thread!, nil)
            #else
            pthread_join(thread, nil)
            #endif
            return result
        }
        return (firstResult!, secondResult)
    }

    /// The first piece of work, released by its thread before `pthread_join` returns.
    private final class Work {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
