// The HTTP API client: the organization's token as a bearer, the one error shape
// {ok:false,error:{code,message}} turned into an ApiError, and a refused token reported to the
// session (the page then says the session is invalid or expired instead of showing empty tables).
import { refused, token } from './session.js';

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export async function api(path, options = {}) {
  const headers = { Authorization: 'Bearer ' + token, ...(options.body ? { 'Content-Type': 'application/json' } : {}) };
  let res;
  let body = null;
  try {
    res = await fetch(path, { method: options.method || 'GET', headers, body: options.body ? JSON.stringify(options.body) : undefined });
    body = await res.json().catch(() => null);
  } catch (e) {
    throw new ApiError('NETWORK', 'The gateway could not be reached.', 0);
  }
  const error = body && body.ok === false ? body.error || {} : null;
  if (res.status === 401) {
    refused(error && error.code, error && error.message);
    throw new ApiError((error && error.code) || 'UNAUTHENTICATED', (error && error.message) || 'session refused', 401);
  }
  if (!res.ok || !body || error) throw new ApiError((error && error.code) || 'HTTP_' + res.status, (error && error.message) || 'refused (HTTP ' + res.status + ')', res.status);
  return body;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  return q.toString();
}
