@_spi(Runtime) import RuntimeAPI
#if canImport(Glibc)
import Glibc
#endif

/// Loads a compiled app module and calls its entry point. Modules are never unloaded: an old version
/// only stops receiving new work (its code may still run for in-flight requests).
public enum AppLoader {
    public static func load(_ path: String) throws(DeployError) -> App {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw .loadFailed(path: path, reason: String(cString: dlerror()))
        }
        guard let symbol = dlsym(handle, AppExport.entryPointSymbol) else {
            throw .loadFailed(path: path, reason: "no \(AppExport.entryPointSymbol) entry point (not built by runtime deploy?)")
        }
        typealias Entry = @convention(c) () -> UnsafeMutableRawPointer
        let entry = unsafeBitCast(symbol, to: Entry.self)
        return AppExport.take(entry())
    }
}
