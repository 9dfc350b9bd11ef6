'use strict';
// Response and request-body helpers.
const MAX_BODY = 1024 * 1024;

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function send(res, status, type, text) {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
const json = (res, status, doc) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(doc) + '\n');
const html = (res, status, text) => send(res, status, 'text/html; charset=utf-8', text);
const text = (res, status, t, type = 'text/plain; charset=utf-8') => send(res, status, type, t);

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new HttpError(413, 'request body larger than 1 MiB')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!size) return resolve(undefined);
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); }
      catch { reject(new HttpError(400, 'body is not valid JSON')); }
    });
    req.on('error', reject);
  });
}

module.exports = { HttpError, json, html, text, readJson };
