'use strict';
// A tiny Prometheus registry: counters and one histogram, text exposition 0.0.4.
const fs = require('node:fs');
const { role, slot, version } = require('./config.js');

const BASE = { role, slot, version };
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const startTime = Date.now() / 1000;

const esc = (v) => String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const fmt = (labels) => '{' + Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',') + '}';

const counters = new Map(); // name -> { help, series: Map<key, {labels, value}> }
function counter(name, help) {
  counters.set(name, { help, series: new Map() });
  return (labels = {}, n = 1) => {
    const all = { ...BASE, ...labels };
    const key = fmt(all);
    const s = counters.get(name).series;
    const cur = s.get(key);
    if (cur) cur.value += n; else s.set(key, { labels: all, value: n });
  };
}

const hist = new Map(); // key -> { labels, counts[], sum, count }
function observe(route, seconds) {
  const labels = { ...BASE, route };
  const key = fmt(labels);
  let h = hist.get(key);
  if (!h) { h = { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 }; hist.set(key, h); }
  BUCKETS.forEach((b, i) => { if (seconds <= b) h.counts[i] += 1; });
  h.sum += seconds;
  h.count += 1;
}

function rssBytes() {
  try {
    const pages = Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch { return process.memoryUsage().rss; }
}

function render() {
  const out = [];
  for (const [name, c] of counters) {
    out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
    for (const s of c.series.values()) out.push(`${name}${fmt(s.labels)} ${s.value}`);
  }
  out.push('# HELP http_request_duration_seconds Request latency by route.', '# TYPE http_request_duration_seconds histogram');
  for (const h of hist.values()) {
    BUCKETS.forEach((b, i) => out.push(`http_request_duration_seconds_bucket${fmt({ ...h.labels, le: b })} ${h.counts[i]}`));
    out.push(`http_request_duration_seconds_bucket${fmt({ ...h.labels, le: '+Inf' })} ${h.count}`);
    out.push(`http_request_duration_seconds_sum${fmt(h.labels)} ${h.sum}`);
    out.push(`http_request_duration_seconds_count${fmt(h.labels)} ${h.count}`);
  }
  out.push('# HELP dms_app_info Build and slot of this process.', '# TYPE dms_app_info gauge', `dms_app_info${fmt(BASE)} 1`);
  out.push('# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.', '# TYPE process_start_time_seconds gauge', `process_start_time_seconds${fmt(BASE)} ${startTime}`);
  out.push('# HELP process_resident_memory_bytes Resident memory size in bytes.', '# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes${fmt(BASE)} ${rssBytes()}`);
  return out.join('\n') + '\n';
}

const m = {
  requests: counter('http_requests_total', 'HTTP requests by route, method and status.'),
  created: counter('dms_documents_created_total', 'Documents created.'),
  read: counter('dms_documents_read_total', 'Documents read.'),
  updated: counter('dms_documents_updated_total', 'Documents updated.'),
  deleted: counter('dms_documents_deleted_total', 'Documents deleted.'),
  cacheHits: counter('dms_cache_hits_total', 'Document cache hits.'),
  cacheMisses: counter('dms_cache_misses_total', 'Document cache misses.'),
  authFailures: counter('dms_auth_failures_total', 'Failed logins.'),
  logins: counter('dms_auth_logins_total', 'Login attempts by result.'),
  rateLimited: counter('dms_rate_limited_requests_total', 'Requests answered 429 by nginx, by limit_req zone.'),
  observe,
  render,
};
// Expose zero-valued series so dashboards and alerts see them from the start.
for (const k of ['created', 'read', 'updated', 'deleted', 'cacheHits', 'cacheMisses', 'authFailures']) m[k]({}, 0);
module.exports = m;
