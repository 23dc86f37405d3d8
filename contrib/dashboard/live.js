// The live gateway client (WebSocket at config.live): one socket for the
// page, channels subscribed by reference count, re-subscribed after every
// reconnect, the token sent first when there is one.
//
//   const off = live.subscribe('run:<id>', (msg) => ...);   // frames
//   const off = live.subscribe('runs', (msg) => ...);       // events
//   live.onStatus((status, detail) => ...);
//       'off' (no URL) | 'idle' (nothing subscribed yet) | 'connecting' | 'open' | 'closed' (retrying)
//
// The views never depend on it: when it is not open they poll the REST API.

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];

export class LiveClient {
  constructor(url, getToken) {
    this.url = url;
    this.getToken = getToken;
    this.ws = null;
    this.status = url && typeof WebSocket !== 'undefined' ? 'idle' : 'off';
    this.detail = url ? '' : 'no live URL configured';
    this.channels = new Map(); // channel -> Set(handler)
    this.acked = new Set();
    this.statusFns = new Set();
    this.attempt = 0;
    this.timer = null;
    this.lastError = '';
  }

  onStatus(fn) {
    this.statusFns.add(fn);
    fn(this.status, this.detail);
    return () => this.statusFns.delete(fn);
  }

  isOpen() { return this.status === 'open'; }
  // true once the server acknowledged the channel (so messages will come)
  isSubscribed(channel) { return this.status === 'open' && this.acked.has(channel); }

  subscribe(channel, handler) {
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
      if (this.status === 'open') this.send({ subscribe: channel });
    }
    set.add(handler);
    this.ensure();
    return () => {
      const s = this.channels.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.channels.delete(channel);
        this.acked.delete(channel);
        if (this.status === 'open') this.send({ unsubscribe: channel });
      }
    };
  }

  // Reconnect now (after a new token, say).
  reconnect() {
    if (this.status === 'off') return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    if (this.ws) {
      this.ws.onclose = null;
      try { this.ws.close(); } catch { /* already closed */ }
      this.ws = null;
    }
    this.setStatus('closed', 'reconnecting');
    this.ensure();
  }

  ensure() {
    if (this.status === 'off' || this.ws || this.timer || this.channels.size === 0) return;
    this.connect();
  }

  connect() {
    this.setStatus('connecting', '');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.setStatus('off', `bad live URL: ${e.message}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.acked.clear();
      const t = this.getToken();
      if (t) this.send({ token: t });
      for (const ch of this.channels.keys()) this.send({ subscribe: ch });
      this.setStatus('open', '');
    };
    ws.onmessage = (ev) => this.dispatch(ev.data);
    ws.onerror = () => { this.lastError = 'connection error'; };
    ws.onclose = (ev) => {
      this.ws = null;
      this.acked.clear();
      const why = ev.reason || this.lastError || (ev.code === 1006 ? 'unreachable' : `closed (${ev.code})`);
      this.lastError = '';
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt++;
      this.setStatus('closed', `${why}; retrying in ${delay / 1000} s`);
      if (this.channels.size) {
        this.timer = setTimeout(() => { this.timer = null; this.ensure(); }, delay);
      }
    };
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  dispatch(data) {
    let msg;
    try { msg = JSON.parse(data); } catch {
      console.warn('live: a message that is not JSON', data);
      return;
    }
    switch (msg.type) {
      case 'frame':
        this.deliver(`run:${msg.run_id}`, msg);
        break;
      case 'event':
        this.deliver('runs', msg);
        break;
      case 'subscribed':
        this.acked.add(msg.channel);
        this.deliver(msg.channel, msg);
        break;
      case 'unsubscribed':
        this.acked.delete(msg.channel);
        break;
      case 'error':
        console.warn('live gateway:', msg.message);
        this.lastError = msg.message || 'error';
        this.setStatus(this.status, msg.message || 'error');
        break;
      default:
        break;
    }
  }

  deliver(channel, msg) {
    const set = this.channels.get(channel);
    if (!set) return;
    for (const fn of [...set]) {
      try { fn(msg); } catch (e) { console.error('live handler failed', e); }
    }
  }

  setStatus(status, detail) {
    this.status = status;
    this.detail = detail;
    for (const fn of [...this.statusFns]) fn(status, detail);
  }
}
