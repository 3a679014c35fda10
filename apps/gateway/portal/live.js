// The live balance over the gateway's socket.io connection (the script /socket.io/socket.io.js
// defines `io`). Snapshots carry a sequence number: an older one never replaces a newer one.
import { Store } from './store.js';
import { refused, token } from './session.js';

export const balance = new Store(null);
/** 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'expired' | 'none'. */
export const connection = new Store(token ? 'connecting' : 'none');

export function connectLive() {
  if (!token || typeof io !== 'function') return;
  // eslint-disable-next-line no-undef
  const socket = io({ auth: { token } });
  socket.on('connect', () => connection.set('connected'));
  socket.on('disconnect', () => {
    if (connection.get() !== 'expired') connection.set('reconnecting');
  });
  socket.on('connect_error', (e) => {
    const code = e && e.data && e.data.code;
    if (code === 'UNAUTHENTICATED' || code === 'TOKEN_EXPIRED') {
      connection.set('refused');
      refused(code, e.message);
    } else connection.set('reconnecting');
  });
  socket.on('balance', (b) => {
    const shown = balance.get();
    if (!shown || b.seq >= shown.seq) balance.set(b);
  });
  // The gateway closes the socket when the token expires; the HTTP API refuses it from then on.
  socket.on('token_expired', (e) => {
    connection.set('expired');
    refused('TOKEN_EXPIRED', e && e.message);
  });
}
