import RuntimeAPI

/// The request a followed redirect makes (the Fetch standard's "HTTP-redirect fetch", §4.4): where it
/// goes, with which method, headers and body.
struct RedirectStep: Sendable {
    /// Statuses that redirect when they carry a `Location`.
    static let statuses: Set<Int> = [301, 302, 303, 307, 308]

    /// Headers that describe the body; they go with it when a redirect turns the request into a GET.
    static let bodyHeaders = ["content-type", "content-encoding", "content-language", "content-location"]
    /// Credentials for the origin they were given for; not sent on to another one.
    static let originCredentials = ["authorization", "proxy-authorization"]

    var target: FetchTarget
    var method: String
    var headers: Headers
    var body: [UInt8]

    /// The next hop after `status` with `location`: 303 (unless the request is a HEAD), and 301 or
    /// 302 answering a POST, become a GET without the body; 307 and 308 (and other 301/302) keep the
    /// method and body. `Authorization` is dropped when the new URL's origin differs.
    func following(status: Int, location: String) throws(FetchError) -> RedirectStep {
        var next = self
        next.target = try target.resolving(location)
        if (status == 303 && method != "HEAD") || ((status == 301 || status == 302) && method == "POST") {
            next.method = "GET"
            next.body = []
            for name in Self.bodyHeaders { next.headers.remove(name) }
        }
        if next.target.origin != target.origin {
            for name in Self.originCredentials { next.headers.remove(name) }
        }
        return next
    }
}
