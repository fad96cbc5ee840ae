@_spi(Runtime) import RuntimeAPI
import RuntimeIO
import RuntimeWebSocket
import Synchronization

/// A namespace as the runtime implements it: ids, stubs, and delivery of events to the owning loop.
final class ObjectNamespaceRuntime: ObjectNamespace, ObjectDelivery, @unchecked Sendable {
    let name: String
    /// The class new instances are made of, and its code version (bumped by each deploy that changes
    /// it). Read on the object loops, written by a deploy: hence the lock.
    private let code: Mutex<(objectClass: any DurableObject.Type, version: Int)>
    let ids: ObjectIDs
    /// Ids of recently used names: deriving one costs two HMACs, a large share of a small request.
    private let namedIDs = Mutex<[String: ObjectID]>([:])
    /// Names cached at most; the cache starts over when full. Longer names are not cached.
    static let namedIDCacheEntries = 4096
    static let namedIDCacheNameBytes = 256
    let directory: String
    unowned let runtime: ObjectRuntime

    init(name: String, objectClass: any DurableObject.Type, uniqueKey: [UInt8], directory: String,
         runtime: ObjectRuntime) {
        self.name = name
        code = Mutex((objectClass, 1))
        self.ids = ObjectIDs(namespace: name, uniqueKey: uniqueKey)
        self.directory = directory
        self.runtime = runtime
    }

    var current: (objectClass: any DurableObject.Type, version: Int) { code.withLock { $0 } }
    var codeVersion: Int { code.withLock { $0.version } }

    /// New code for this binding: instances are re-created with it at their next event.
    func replaceClass(_ objectClass: any DurableObject.Type) {
        code.withLock { $0 = (objectClass, $0.version + 1) }
    }

    func idFromName(_ name: String) -> ObjectID {
        guard name.utf8.count <= Self.namedIDCacheNameBytes else { return ids.fromName(name) }
        if let id = namedIDs.withLock({ $0[name] }) { return id }
        let id = ids.fromName(name)
        namedIDs.withLock { cache in
            if cache.count >= Self.namedIDCacheEntries { cache.removeAll(keepingCapacity: true) }
            cache[name] = id
        }
        return id
    }
    func newUniqueId() -> ObjectID { ids.unique() }
    func idFromString(_ hex: String) throws -> ObjectID { try ids.parse(hex) }
    func get(_ id: ObjectID) -> ObjectStub { ObjectStub(id: id, delivery: self) }

    func databasePath(for id: ObjectID) -> String { directory + "/" + id.hex + ".sqlite" }

    func fetch(_ id: ObjectID, _ request: Request) async throws -> Response {
        // Sockets the object accepts but does not return in its response must not wait forever.
        let tracker = UpgradeTracker(abandon: abandonUnconnected)
        do {
            let response = try await UpgradeTracker.$current.withValue(tracker) {
                try await runtime.deliver(to: self, id) { instance in try await instance.fetch(request) }
            }
            tracker.settle(response)
            return response
        } catch {
            tracker.settle(nil)
            throw error
        }
    }

    func run<Object: DurableObject, Result: Sendable>(
        _ id: ObjectID, as type: Object.Type, _ body: @escaping @Sendable (isolated Object) async throws -> Result
    ) async throws -> Result {
        try await runtime.deliver(to: self, id) { instance in
            guard let typed = instance as? Object else {
                throw HTTPError(500, "object \(id) of namespace \(self.name) is a \(Swift.type(of: instance)), not a \(type)")
            }
            return try await body(typed)
        }
    }
}
