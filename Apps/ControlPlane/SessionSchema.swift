/// The session object's tables (reference §1.4), with the columns of the original. Differences, each a
/// fix: `sandbox.auth_token` holds the SHA-256 of the sandbox token, not the token; `events.part_id`
/// lets a `token` event be replaced by the next one for the same text part (tokens are cumulative,
/// so only the last matters), which keeps the event log from filling with partial texts;
/// `artifacts.message_id` names the prompt that made the artifact; `session.base_branch` is the branch
/// the session starts from and opens its PR against (empty: the repository's default).
enum SessionSchema {
    /// Columns added after a session's database may have been created, each with the statement that
    /// adds it: (table, column, ALTER TABLE).
    static let addedColumns: [(table: String, column: String, sql: String)] = [
        ("artifacts", "message_id", "ALTER TABLE artifacts ADD COLUMN message_id TEXT"),
        ("session", "base_branch", "ALTER TABLE session ADD COLUMN base_branch TEXT"),
    ]

    static let statements = """
        CREATE TABLE IF NOT EXISTS session (
          id TEXT PRIMARY KEY, session_name TEXT NOT NULL, title TEXT NOT NULL, repo_owner TEXT NOT NULL,
          repo_name TEXT NOT NULL, repo_default_branch TEXT NOT NULL DEFAULT 'main', branch_name TEXT, base_sha TEXT,
          current_sha TEXT, opencode_session_id TEXT, model TEXT NOT NULL DEFAULT 'claude-haiku-4-5',
          status TEXT NOT NULL DEFAULT 'created', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
          base_branch TEXT);
        CREATE TABLE IF NOT EXISTS participants (
          id TEXT PRIMARY KEY, user_id TEXT NOT NULL, github_user_id TEXT, github_login TEXT, github_email TEXT,
          github_name TEXT, role TEXT NOT NULL DEFAULT 'member', github_access_token_encrypted TEXT,
          github_refresh_token_encrypted TEXT, github_token_expires_at INTEGER, ws_auth_token TEXT,
          ws_token_created_at INTEGER, joined_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS participants_user ON participants (user_id);
        CREATE INDEX IF NOT EXISTS participants_ws_token ON participants (ws_auth_token);
        CREATE TABLE IF NOT EXISTS messages (
          id TEXT PRIMARY KEY, author_id TEXT NOT NULL, content TEXT NOT NULL, source TEXT NOT NULL DEFAULT 'web',
          model TEXT, attachments TEXT, callback_context TEXT, status TEXT NOT NULL DEFAULT 'pending',
          error_message TEXT, created_at INTEGER NOT NULL, started_at INTEGER, completed_at INTEGER);
        CREATE INDEX IF NOT EXISTS messages_status ON messages (status, created_at);
        CREATE INDEX IF NOT EXISTS messages_author ON messages (author_id);
        CREATE TABLE IF NOT EXISTS events (
          id TEXT PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, message_id TEXT, part_id TEXT,
          created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS events_message ON events (message_id);
        CREATE INDEX IF NOT EXISTS events_type ON events (type);
        CREATE INDEX IF NOT EXISTS events_created ON events (created_at);
        CREATE TABLE IF NOT EXISTS artifacts (
          id TEXT PRIMARY KEY, type TEXT NOT NULL, url TEXT, metadata TEXT, created_at INTEGER NOT NULL,
          message_id TEXT);
        CREATE TABLE IF NOT EXISTS sandbox (
          id TEXT PRIMARY KEY, modal_sandbox_id TEXT, modal_object_id TEXT, snapshot_id TEXT, snapshot_image_id TEXT,
          auth_token TEXT, status TEXT NOT NULL DEFAULT 'pending', git_sync_status TEXT NOT NULL DEFAULT 'pending',
          last_heartbeat INTEGER, last_activity INTEGER, created_at INTEGER NOT NULL DEFAULT 0,
          spawn_failure_count INTEGER NOT NULL DEFAULT 0, last_spawn_failure INTEGER, tunnel_urls TEXT,
          active_ports TEXT);
        CREATE TABLE IF NOT EXISTS ws_client_mapping (
          ws_id TEXT PRIMARY KEY, participant_id TEXT NOT NULL, client_id TEXT, created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS pending_questions (
          request_id TEXT PRIMARY KEY, answers TEXT, created_at INTEGER NOT NULL)
        """
}

/// Session, sandbox and message states (reference §1.6).
enum SandboxStatus {
    static let pending = "pending", spawning = "spawning", connecting = "connecting", ready = "ready",
               running = "running", stale = "stale", snapshotting = "snapshotting", stopped = "stopped",
               failed = "failed"
    /// The sandbox is gone: nothing runs until a restore or a spawn.
    static let terminal: Set<String> = [stopped, stale, failed]
}
