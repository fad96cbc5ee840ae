// The live session view: fetches a ws-token from this app, opens the session WebSocket to the control
// plane, and renders what arrives (reference §1.7). Assistant text is shown as it streams: each
// `token` event carries the text of its part so far, so the part's element is simply replaced.
(() => {
  'use strict';
  const root = document.getElementById('session');
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const sessionId = root.dataset.sessionId;
  const me = root.dataset.userId;
  const csrf = document.querySelector('meta[name=csrf-token]').content;

  const PING_MS = 30000;             // keep-alive, as the original client
  const MAX_RETRIES = 5;             // reconnect attempts after an unclean close
  const MAX_BACKOFF_MS = 30000;
  const QUESTION_TOOLS = new Set(['question', 'askuserquestion', 'mcp__conductor__askuserquestion']);
  const STATUS_LABELS = {
    pending: 'Not started', spawning: 'Starting', connecting: 'Starting', warming: 'Warming up', syncing: 'Syncing',
    ready: 'Ready', running: 'Running', snapshotting: 'Saving', stopped: 'Stopped', stale: 'Stopped', failed: 'Failed',
  };

  const view = {
    socket: null, subscribed: false, processing: false, sandbox: 'pending', retries: 0, retryTimer: null, pingTimer: null,
    chains: new Map(),    // messageId → chain element
    parts: new Map(),     // messageId:partId → text element
    calls: new Map(),     // callId → tool list item
    files: new Map(),     // path → {added, removed}, from completed edits and writes
    counted: new Set(),   // callIds already counted in files
    users: new Map(),     // messageId → user message element
    participants: new Map(),
    pending: null,        // the optimistic user message waiting for its messageId
    clientId: (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2)),
  };

  // MARK: Connection

  async function connect() {
    clearTimeout(view.retryTimer);
    setConnection('connecting', 'Connecting');
    let issued;
    try {
      const response = await fetch(`/session/${encodeURIComponent(sessionId)}/ws-token`, {
        method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json' }, credentials: 'same-origin',
      });
      issued = await response.json();
      if (!response.ok) throw new Error(issued.error || `ws-token: HTTP ${response.status}`);
    } catch (error) {
      return retryOrGiveUp(`Cannot get a session token: ${error.message}`);
    }
    view.participantId = issued.participantId;
    const socket = new WebSocket(issued.url);
    view.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'subscribe', token: issued.token, clientId: view.clientId }));
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      handle(message);
    };
    socket.onclose = (event) => {
      if (view.socket !== socket) return;
      view.socket = null;
      view.subscribed = false;
      clearInterval(view.pingTimer);
      updateComposer();
      if (event.code === 4001 || event.code === 4002) {
        setConnection('disconnected', 'Disconnected');
        showBanner(event.code === 4001 ? 'Your session token was refused.' : 'The session expired.');
      } else if (event.code === 1000) {
        setConnection('disconnected', 'Closed');
        showBanner(event.reason ? `The session closed: ${event.reason}.` : 'The session closed.');
      } else {
        retryOrGiveUp('The connection dropped.');
      }
    };
  }

  function retryOrGiveUp(reason) {
    setConnection('disconnected', 'Disconnected');
    if (view.retries >= MAX_RETRIES) {
      showBanner(`${reason} Gave up after ${MAX_RETRIES} tries.`);
      return;
    }
    const delay = Math.min(1000 * 2 ** view.retries, MAX_BACKOFF_MS);
    view.retries += 1;
    showBanner(`${reason} Reconnecting in ${Math.round(delay / 1000)} s…`);
    view.retryTimer = setTimeout(connect, delay);
  }

  function send(message) {
    if (view.socket && view.socket.readyState === WebSocket.OPEN) {
      view.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // MARK: Messages from the control plane

  function handle(message) {
    switch (message.type) {
      case 'subscribed': {
        view.subscribed = true;
        view.retries = 0;
        hideBanner();
        resetTimeline();
        const state = message.state || {};
        if (state.title) $('session-title').textContent = state.title;
        if (state.branchName) setBranch(state.branchName);
        if (state.status) $('session-status').textContent = state.status;
        view.processing = !!state.isProcessing;
        setSandbox(state.sandboxStatus || 'pending');
        clearInterval(view.pingTimer);
        view.pingTimer = setInterval(() => send({ type: 'ping' }), PING_MS);
        send({ type: 'typing' });   // warms the sandbox up while the user reads
        break;
      }
      case 'sandbox_event': onEvent(message.event || {}); break;
      case 'history_complete': root.dataset.history = 'complete'; scrollDown(true); break;
      case 'prompt_queued': {
        if (view.pending && !view.users.has(message.messageId)) { attachUserMessage(view.pending, message.messageId); view.pending = null; }
        // Behind another prompt: it waits its turn, and says so until its first event arrives.
        const queued = view.users.get(message.messageId);
        if (queued && message.position > 1) markQueued(queued, message.position - 1);
        break;
      }
      case 'presence_sync':
      case 'presence_update': setParticipants(message.participants || []); break;
      case 'presence_leave':
        for (const [key, person] of view.participants) if (person.userId === message.userId) view.participants.delete(key);
        renderParticipants();
        break;
      case 'sandbox_status': setSandbox(message.status); break;
      case 'sandbox_spawning': setSandbox('spawning'); break;
      case 'sandbox_warming': setSandbox('warming'); break;
      case 'sandbox_restored': note(message.message || 'Sandbox restored from a snapshot.'); break;
      case 'sandbox_warning': note(message.message || 'Sandbox warning.'); break;
      case 'sandbox_error': errorBlock(chainFor(null), message.error || 'Sandbox error'); setSandbox('failed'); break;
      case 'processing_status':
        view.processing = !!message.isProcessing;
        if (view.processing && $('session-status').textContent === 'created') $('session-status').textContent = 'active';
        updateStatus();
        break;
      case 'session_status': $('session-status').textContent = message.status; break;
      case 'artifact_created': addArtifact(message.artifact || {}); break;
      case 'question_answer_queued': note(message.message || 'Answer queued until the sandbox is back.'); break;
      case 'question_answer_error': note(`Answer not delivered: ${message.error}`); break;
      case 'error': note(`${message.code || 'error'}: ${message.message || ''}`); break;
      default: break;   // pong, snapshot_saved, ports and tunnels: nothing to show
    }
  }

  function onEvent(event) {
    const waiting = event.messageId && view.users.get(event.messageId);
    if (waiting && event.type !== 'user_message') waiting.querySelector('.queued-badge')?.remove();
    switch (event.type) {
      case 'user_message': userMessage(event); break;
      case 'token': streamText(event); break;
      case 'tool_call': toolCall(event); break;
      case 'error': errorBlock(chainFor(event.messageId), event.error || 'error'); break;
      case 'execution_complete': completed(event); break;
      case 'git_sync': note(`Git sync: ${event.status}${event.sha ? ' ' + String(event.sha).slice(0, 7) : ''}`, event.messageId); break;
      case 'artifact': addArtifact({ type: event.artifactType, url: event.url, ...(event.metadata || {}) }); break;
      case 'session_title_updated': if (event.title) $('session-title').textContent = event.title; break;
      case 'push_error': note(`Push failed: ${event.error}`, event.messageId); break;
      default: break;   // ready, heartbeat, step_start/finish, snapshot_ready
    }
    scrollDown(false);
  }

  // MARK: The timeline

  function resetTimeline() {
    const list = $('messages');
    list.replaceChildren();
    view.chains.clear(); view.parts.clear(); view.calls.clear(); view.users.clear();
    view.files.clear(); view.counted.clear();
    view.pending = null;
    renderFiles();
    $('tasks').replaceChildren(); $('tasks-panel').hidden = true;
    const empty = document.createElement('p');
    empty.className = 'empty'; empty.id = 'messages-empty';
    empty.textContent = 'No messages yet. Write a prompt below; with the shell agent, a prompt is a shell command.';
    list.append(empty);
  }

  function append(node) {
    const empty = $('messages-empty');
    if (empty) empty.remove();
    $('messages').append(node);
    return node;
  }

  function userMessage(event) {
    if (event.messageId && view.users.has(event.messageId)) return;
    // Our own prompt, already shown: it only gets its id.
    const author = event.author || {};
    if (view.pending && author.participantId && author.participantId === view.participantId) {
      attachUserMessage(view.pending, event.messageId);
      view.pending = null;
      return;
    }
    const node = renderUserMessage(event.content || '', event.author || {});
    append(node);
    attachUserMessage(node, event.messageId);
  }

  function renderUserMessage(content, author) {
    const node = document.createElement('div');
    node.className = 'message user-message';
    node.append(avatar(author.name || 'Someone', author.avatar));
    const body = document.createElement('div');
    const who = document.createElement('div');
    who.className = 'author'; who.textContent = author.name || 'Someone';
    const bubble = document.createElement('div');
    bubble.className = 'bubble'; bubble.textContent = content;
    body.append(who, bubble);
    node.append(body);
    return node;
  }

  function markQueued(node, ahead) {
    let badge = node.querySelector('.queued-badge');
    if (!badge) {
      badge = document.createElement('span');
      badge.className = 'queued-badge pill';
      node.querySelector('.author').append(' ', badge);
    }
    badge.textContent = ahead === 1 ? 'queued, 1 ahead' : `queued, ${ahead} ahead`;
  }

  function attachUserMessage(node, messageId) {
    if (!messageId) return;
    node.dataset.messageId = messageId;
    view.users.set(messageId, node);
  }

  /// The assistant's output for one prompt, placed after its user message.
  function chainFor(messageId) {
    const key = messageId || '_';
    let chain = view.chains.get(key);
    if (!chain) {
      chain = document.createElement('div');
      chain.className = 'message chain';
      if (messageId) chain.dataset.messageId = messageId;
      append(chain);
      view.chains.set(key, chain);
    }
    return chain;
  }

  function streamText(event) {
    const key = `${event.messageId}:${event.partId || 'text'}`;
    let part = view.parts.get(key);
    if (!part) {
      part = document.createElement('pre');
      part.className = 'assistant-text';
      chainFor(event.messageId).append(part);
      view.parts.set(key, part);
    }
    part.textContent = event.content || '';
  }

  function toolCall(event) {
    const tool = String(event.tool || 'tool');
    const name = tool.toLowerCase();
    if (QUESTION_TOOLS.has(name)) return questionCard(event);
    const args = event.args || {};
    const id = event.callId || `${event.messageId}:${tool}:${Math.random()}`;
    let item = view.calls.get(id);
    if (!item) {
      const chain = chainFor(event.messageId);
      // Consecutive calls of one tool share a group.
      let group = chain.lastElementChild;
      if (!group || !group.classList.contains('tool-group') || group.dataset.tool !== name) {
        group = document.createElement('details');
        group.className = 'tool-group';
        group.dataset.tool = name;
        const summary = document.createElement('summary');
        summary.innerHTML = '<span class="tool-name"></span><span class="tool-count"></span><span class="tool-preview"></span>';
        summary.querySelector('.tool-name').textContent = TOOL_LABELS[name] || tool;
        group.append(summary, document.createElement('ul'));
        chain.append(group);
      }
      item = document.createElement('li');
      item.innerHTML = '<span class="tool-status"></span> <span class="tool-summary"></span>';
      group.querySelector('ul').append(item);
      const count = group.querySelectorAll('li').length;
      group.querySelector('.tool-count').textContent = count > 1 ? ` ×${count}` : '';
      view.calls.set(id, item);
    }
    const status = event.status || 'pending';
    const badge = item.querySelector('.tool-status');
    badge.className = `tool-status ${status}`;
    badge.textContent = status;
    const line = describeTool(name, args).slice(0, MAX_SUMMARY);
    item.querySelector('.tool-summary').textContent = line;
    // A folded group still says what its latest call did.
    const group = item.closest('.tool-group');
    if (group.querySelector('ul').lastElementChild === item) group.querySelector('.tool-preview').textContent = line;
    showOutput(item, event.output);
    if (name === 'todowrite' && Array.isArray(args.todos)) renderTasks(args.todos);
    if (status === 'completed' && !view.counted.has(id)) {
      const change = fileChange(name, args);
      if (change) { view.counted.add(id); countFileChange(change); }
    }
  }

  /// A tool's output, folded under its line; replaced as later statuses bring more.
  function showOutput(item, output) {
    const text = typeof output === 'string' ? output : output == null ? '' : JSON.stringify(output, null, 2);
    let fold = item.querySelector('.tool-output');
    if (!text) { if (fold) fold.remove(); return; }
    if (!fold) {
      fold = document.createElement('details');
      fold.className = 'tool-output';
      fold.innerHTML = '<summary>output</summary><pre></pre>';
      item.append(fold);
    }
    fold.querySelector('pre').textContent = text.length > MAX_OUTPUT ? text.slice(0, MAX_OUTPUT) + '\n…' : text;
  }

  // MARK: Tool formatters: one line per call (reference §4), under OpenCode's and Claude Code's names

  const TOOL_LABELS = {
    read: 'Read', edit: 'Edit', multiedit: 'Edit', write: 'Write', bash: 'Bash', grep: 'Grep', glob: 'Glob',
    list: 'List', ls: 'List', task: 'Task', webfetch: 'Fetch', websearch: 'Search', todowrite: 'Tasks', todoread: 'Tasks',
    patch: 'Patch',
  };
  const MAX_SUMMARY = 300;
  const MAX_OUTPUT = 8000;
  const arg = (args, ...names) => { for (const n of names) if (args[n] != null && args[n] !== '') return String(args[n]); return ''; };
  const pathOf = (args) => arg(args, 'filePath', 'file_path', 'path');
  const lineCount = (text) => {
    if (typeof text !== 'string' || text === '') return 0;
    const lines = text.split('\n').length;
    return text.endsWith('\n') ? lines - 1 : lines;
  };
  const delta = ({ added, removed }) => `+${added} −${removed}`;

  function describeTool(name, args) {
    switch (name) {
      case 'read': {
        const offset = Number(args.offset), limit = Number(args.limit);
        const range = limit > 0 ? ` (lines ${(offset || 0) + 1}–${(offset || 0) + limit})` : offset > 0 ? ` (from line ${offset + 1})` : '';
        return pathOf(args) + range;
      }
      case 'edit': case 'multiedit': case 'write': {
        const change = fileChange(name, args);
        return change ? `${change.path} ${name === 'write' ? `(${change.added} lines)` : delta(change)}` : pathOf(args);
      }
      case 'bash': return `$ ${arg(args, 'command')}`;
      case 'grep': {
        const where = arg(args, 'path'), only = arg(args, 'include', 'glob');
        return `“${arg(args, 'pattern')}”${where ? ' in ' + where : ''}${only ? ' (' + only + ')' : ''}`;
      }
      case 'glob': { const where = arg(args, 'path'); return arg(args, 'pattern') + (where ? ' in ' + where : ''); }
      case 'list': case 'ls': return arg(args, 'path') || '.';
      case 'task': {
        const kind = arg(args, 'subagent_type', 'subagentType');
        return arg(args, 'description', 'prompt') + (kind ? ` (${kind})` : '');
      }
      case 'webfetch': return arg(args, 'url');
      case 'websearch': return arg(args, 'query');
      case 'todowrite': {
        const todos = Array.isArray(args.todos) ? args.todos : [];
        return `${todos.length} task${todos.length === 1 ? '' : 's'}, ${todos.filter((t) => t.status === 'completed').length} done`;
      }
      case 'todoread': return 'the task list';
      default: {
        const first = Object.values(args).find((value) => typeof value === 'string' && value);
        return first || '';
      }
    }
  }

  // MARK: Files changed, estimated from edits and writes (lines of the new text added, of the old removed)

  function fileChange(name, args) {
    const path = pathOf(args);
    if (!path) return null;
    if (name === 'write') return { path, added: lineCount(arg(args, 'content')), removed: 0 };
    const edits = name === 'multiedit' && Array.isArray(args.edits) ? args.edits : name === 'edit' ? [args] : null;
    if (!edits) return null;
    return edits.reduce((sum, edit) => ({
      path,
      added: sum.added + lineCount(arg(edit, 'newString', 'new_string')),
      removed: sum.removed + lineCount(arg(edit, 'oldString', 'old_string')),
    }), { path, added: 0, removed: 0 });
  }

  function countFileChange(change) {
    const file = view.files.get(change.path) || { added: 0, removed: 0 };
    file.added += change.added; file.removed += change.removed;
    view.files.set(change.path, file);
    renderFiles();
  }

  function renderFiles() {
    const list = $('files');
    list.replaceChildren();
    for (const [path, file] of [...view.files].sort(([a], [b]) => a.localeCompare(b))) {
      const item = document.createElement('li');
      item.dataset.path = path;
      item.innerHTML = '<span class="file-path"></span> <span class="added"></span> <span class="removed"></span>';
      item.querySelector('.file-path').textContent = path;
      item.querySelector('.added').textContent = `+${file.added}`;
      item.querySelector('.removed').textContent = `−${file.removed}`;
      list.append(item);
    }
    $('files-count').textContent = view.files.size ? String(view.files.size) : '';
    $('files-panel').hidden = view.files.size === 0;
  }

  // MARK: Tasks: the latest TodoWrite list

  const TASK_MARKS = { pending: '○', in_progress: '◐', completed: '●', cancelled: '✕' };

  function renderTasks(todos) {
    const list = $('tasks');
    list.replaceChildren();
    for (const todo of todos) {
      const state = TASK_MARKS[todo.status] ? todo.status : 'pending';
      const item = document.createElement('li');
      item.className = `task ${state}`;
      item.dataset.state = state;
      item.innerHTML = '<span class="task-mark" aria-hidden="true"></span> <span class="task-text"></span>';
      item.querySelector('.task-mark').textContent = TASK_MARKS[state];
      item.querySelector('.task-text').textContent = String(todo.content || todo.title || '');
      item.title = state.replace('_', ' ');
      list.append(item);
    }
    const done = todos.filter((todo) => todo.status === 'completed').length;
    $('tasks-count').textContent = todos.length ? `${done}/${todos.length}` : '';
    $('tasks-panel').hidden = todos.length === 0;
  }

  function questionCard(event) {
    const requestId = (event.args && event.args.id) || event.callId;
    let card = view.calls.get(event.callId);
    if (!card) {
      card = document.createElement('div');
      card.className = 'question-card';
      chainFor(event.messageId).append(card);
      view.calls.set(event.callId, card);
      const questions = (event.args && event.args.questions) || [{ question: (event.args && event.args.question) || 'The agent asks:' }];
      const answers = questions.map(() => new Set());
      questions.forEach((question, index) => {
        const title = document.createElement('p');
        title.textContent = question.question || question.header || 'Question';
        const options = document.createElement('div');
        options.className = 'options';
        for (const option of question.options || []) {
          const label = typeof option === 'string' ? option : option.label;
          const button = document.createElement('button');
          button.type = 'button'; button.className = 'button button-ghost button-small option'; button.textContent = label;
          button.onclick = () => {
            if (!question.multiple) { answers[index].clear(); options.querySelectorAll('.option').forEach((b) => b.classList.remove('selected')); }
            if (answers[index].has(label)) { answers[index].delete(label); button.classList.remove('selected'); }
            else { answers[index].add(label); button.classList.add('selected'); }
          };
          options.append(button);
        }
        const custom = document.createElement('input');
        custom.type = 'text'; custom.placeholder = 'Or type an answer';
        custom.oninput = () => { custom.dataset.value = custom.value; };
        card.append(title, options, custom);
      });
      const submit = document.createElement('button');
      submit.type = 'button'; submit.className = 'button button-small'; submit.textContent = 'Answer';
      submit.onclick = () => {
        const typed = [...card.querySelectorAll('input[type=text]')].map((input) => input.value.trim());
        const reply = answers.map((set, index) => (typed[index] ? [...set, typed[index]] : [...set]));
        if (send({ type: 'question_answer', requestId, answers: reply })) {
          submit.disabled = true; submit.textContent = 'Answered';
        }
      };
      card.append(submit);
    }
    if (event.status === 'completed' || event.status === 'error') {
      card.classList.add('answered');
      card.querySelectorAll('button, input').forEach((control) => { control.disabled = true; });
    }
  }

  function completed(event) {
    const chain = chainFor(event.messageId);
    if (chain.querySelector('.complete')) return;
    // A finished prompt asks nothing any more.
    chain.querySelectorAll('.question-card button, .question-card input').forEach((control) => { control.disabled = true; });
    const done = document.createElement('div');
    done.className = `event-note complete ${event.success ? 'ok' : 'failed'}`;
    done.textContent = event.success ? 'Done' : `Failed${event.error ? ': ' + event.error : ''}`;
    chain.append(done);
  }

  function errorBlock(chain, text) {
    const block = document.createElement('div');
    block.className = 'event-error';
    block.textContent = text;
    chain.append(block);
  }

  function note(text, messageId) {
    const line = document.createElement('div');
    line.className = 'event-note';
    line.textContent = text;
    (messageId ? chainFor(messageId) : $('messages')).append(line);
  }

  function addArtifact(artifact) {
    if (!artifact.url) return;
    const link = $('pr-link');
    if (artifact.type === 'pr' || artifact.type === 'pull_request') {
      link.href = artifact.url;
      link.textContent = artifact.prNumber ? `View pull request #${artifact.prNumber}` : 'View pull request';
      link.dataset.kind = 'pr';
      link.hidden = false;
    } else if (artifact.type === 'branch' && link.dataset.kind !== 'pr') {
      // A branch pushed without a pull request (its author had no GitHub token): GitHub's compare page opens one.
      link.href = artifact.url;
      link.textContent = 'Open a pull request';
      link.dataset.kind = 'branch';
      link.hidden = false;
    }
    const list = $('artifacts');
    if ([...list.querySelectorAll('a')].some((a) => a.href === artifact.url)) return;
    const item = document.createElement('li');
    const anchor = document.createElement('a');
    anchor.href = artifact.url; anchor.target = '_blank'; anchor.rel = 'noopener';
    anchor.textContent = artifact.type === 'branch' ? 'branch (open a pull request)'
      : `${artifact.type || 'artifact'}${artifact.prNumber ? ' #' + artifact.prNumber : ''}`;
    item.append(anchor);
    list.append(item);
    $('artifacts-panel').hidden = false;
  }

  function scrollDown(force) {
    const list = $('messages');
    if (force || list.scrollHeight - list.scrollTop - list.clientHeight < 160) list.scrollTop = list.scrollHeight;
  }

  // MARK: Presence

  function setParticipants(participants) {
    view.participants.clear();
    for (const person of participants) view.participants.set(person.participantId || person.userId, person);
    renderParticipants();
  }

  function renderParticipants() {
    const list = $('presence');
    list.replaceChildren();
    const seen = new Set();
    for (const person of view.participants.values()) {
      if (seen.has(person.userId)) continue;   // one row per person, however many tabs
      seen.add(person.userId);
      const item = document.createElement('li');
      item.dataset.userId = person.userId;
      const name = document.createElement('span');
      name.className = 'person-name';
      name.textContent = person.name || person.userId;
      item.append(avatar(person.name || person.userId, person.avatar), name);
      if (person.userId === me) {
        const you = document.createElement('span');
        you.className = 'you'; you.textContent = '(you)';
        item.append(you);
      }
      list.append(item);
    }
  }

  function avatar(name, url) {
    const initial = () => {
      const span = document.createElement('span');
      span.className = 'avatar avatar-initial';
      let hue = 0;
      for (const char of name) hue = (hue * 31 + char.codePointAt(0)) & 0xffff;
      span.style.setProperty('--hue', String(hue % 360));
      span.textContent = (name[0] || '?').toUpperCase();
      span.title = name;
      return span;
    };
    if (!url) return initial();
    const image = document.createElement('img');
    image.className = 'avatar'; image.src = url; image.alt = name; image.title = name; image.width = 24; image.height = 24;
    image.onerror = () => image.replaceWith(initial());
    return image;
  }

  // MARK: Session info

  function setBranch(name) {
    $('branch').textContent = name;
    $('copy-branch').hidden = !(name && navigator.clipboard);
  }

  function relativeTime(date) {
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (seconds < 60) return 'just now';
    for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
      if (seconds >= size) { const n = Math.floor(seconds / size); return `${n} ${unit}${n === 1 ? '' : 's'} ago`; }
    }
    return 'just now';
  }

  function showCreated() {
    const created = $('created');
    const date = new Date(created.getAttribute('datetime'));
    if (Number.isNaN(date.getTime())) return;
    created.textContent = relativeTime(date);
    created.title = date.toLocaleString();
  }

  // MARK: Status and composer

  function setConnection(state, label) {
    $('status').dataset.state = state;
    $('status-label').textContent = label;
  }

  function setSandbox(status) {
    view.sandbox = status || 'pending';
    $('sandbox-status').textContent = STATUS_LABELS[view.sandbox] || view.sandbox;
    updateStatus();
  }

  function updateStatus() {
    if (!view.subscribed) { updateComposer(); return; }
    const running = view.processing;
    const state = running ? 'running' : ({ ready: 'ready', failed: 'failed', stopped: 'stopped', stale: 'stopped', pending: 'stopped' }[view.sandbox] || 'starting');
    setConnection(state, running ? 'Running' : (STATUS_LABELS[view.sandbox] || view.sandbox));
    updateComposer();
  }

  /// The composer takes a prompt once the sandbox is ready; one sent while another runs waits in the
  /// session's queue (upstream #1386; the original disabled the composer). A stopped sandbox is
  /// restored by the prompt itself.
  function updateComposer() {
    const ready = view.subscribed && ['ready', 'running', 'stopped', 'stale', 'pending'].includes(view.sandbox);
    const prompt = $('prompt');
    prompt.disabled = !ready;
    prompt.placeholder = !view.subscribed ? 'Connecting…'
      : !ready ? 'Waiting for the sandbox…'
      : view.processing ? 'The agent is working; a prompt sent now waits its turn'
      : 'Ask the agent (Enter sends, Shift+Enter adds a line)';
    $('send').disabled = !ready || !prompt.value.trim();
    $('stop').disabled = !(view.subscribed && view.processing);
  }

  function submitPrompt() {
    const prompt = $('prompt');
    const content = prompt.value.trim();
    if (!content || prompt.disabled) return;
    if (!send({ type: 'prompt', content, model: $('prompt-model').value })) return;
    const node = renderUserMessage(content, { name: root.dataset.userName });
    append(node);
    view.pending = node;
    prompt.value = '';
    view.processing = true;    // optimistic, as the original; processing_status confirms
    updateStatus();
    scrollDown(true);
  }

  $('composer').addEventListener('submit', (event) => { event.preventDefault(); submitPrompt(); });
  $('prompt').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); submitPrompt(); }
  });
  $('prompt').addEventListener('input', updateComposer);
  $('stop').addEventListener('click', () => send({ type: 'stop' }));
  $('reconnect').addEventListener('click', () => { view.retries = 0; hideBanner(); connect(); });
  $('copy-branch').addEventListener('click', () => {
    navigator.clipboard.writeText($('branch').textContent).then(() => { $('copy-branch').textContent = 'Copied'; });
  });
  setBranch($('branch').textContent);
  showCreated();
  setInterval(showCreated, 60000);

  function showBanner(text) { $('banner-text').textContent = text; $('banner').hidden = false; }
  function hideBanner() { $('banner').hidden = true; }

  connect();
})();
