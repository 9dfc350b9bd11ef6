// Generates the Grafana dashboards in monitoring/grafana/dashboards/*.json.
// Edit this file, not the JSON:   npx tsx monitoring/grafana/generate-dashboards.ts
// test/integration/monitoring.test.ts checks that the committed JSON equals this
// output, that the structure is what Grafana provisioning expects, and that every
// PromQL expression parses (promtool check rules on a generated rule file).

import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DS = { type: 'prometheus', uid: 'dms-prometheus' } as const;

interface Target {
  expr: string;
  legend?: string;
  instant?: boolean;
  format?: 'time_series' | 'table';
}

interface PanelSpec {
  title: string;
  type?: 'timeseries' | 'stat' | 'table' | 'bargauge';
  w?: number;
  h?: number;
  unit?: string;
  description?: string;
  targets: Target[];
  thresholds?: Array<[number | null, string]>;
  mappings?: unknown[];
  stack?: boolean;
}

interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  file: string;
  variables?: unknown[];
  annotations?: unknown[];
  rows: PanelSpec[][];
}

function panel(spec: PanelSpec, id: number, x: number, y: number): Record<string, unknown> {
  const type = spec.type ?? 'timeseries';
  const defaults: Record<string, unknown> = { unit: spec.unit ?? 'short' };
  if (spec.thresholds) {
    defaults.thresholds = {
      mode: 'absolute',
      steps: spec.thresholds.map(([value, color]) => ({ value, color })),
    };
    defaults.color = { mode: 'thresholds' };
  }
  if (spec.mappings) defaults.mappings = spec.mappings;
  if (type === 'timeseries') {
    defaults.custom = { lineWidth: 1, fillOpacity: spec.stack ? 30 : 10, stacking: { mode: spec.stack ? 'normal' : 'none' } };
  }
  const options: Record<string, unknown> =
    type === 'timeseries'
      ? { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } }
      : type === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'none', textMode: 'value_and_name' }
        : type === 'bargauge'
          ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, orientation: 'horizontal', displayMode: 'gradient' }
          : { showHeader: true };
  return {
    id,
    type,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    datasource: DS,
    gridPos: { h: spec.h ?? 8, w: spec.w ?? 12, x, y },
    targets: spec.targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr: t.expr,
      legendFormat: t.legend ?? '__auto',
      instant: t.instant ?? type !== 'timeseries',
      range: !(t.instant ?? type !== 'timeseries'),
      format: t.format ?? (type === 'table' ? 'table' : 'time_series'),
    })),
    fieldConfig: { defaults, overrides: [] },
    options,
  };
}

function dashboard(spec: DashboardSpec): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    let x = 0;
    let rowHeight = 0;
    for (const p of row) {
      const w = p.w ?? Math.floor(24 / row.length);
      panels.push(panel({ ...p, w }, id++, x, y));
      x += w;
      rowHeight = Math.max(rowHeight, p.h ?? 8);
    }
    y += rowHeight;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['dms'],
    timezone: 'browser',
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: { list: spec.variables ?? [] },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...(spec.annotations ?? []),
      ],
    },
    links: [{ title: 'DMS dashboards', type: 'dashboards', tags: ['dms'], asDropdown: true }],
    panels,
  };
}

const slotVar = {
  name: 'slot',
  label: 'Slot',
  type: 'custom',
  query: 'blue,green',
  multi: true,
  includeAll: true,
  allValue: '.*',
  current: { selected: true, text: ['All'], value: ['$__all'] },
  options: [],
};
const roleVar = {
  name: 'role',
  label: 'Role',
  type: 'query',
  datasource: DS,
  query: { query: 'label_values(up{job="app"}, role)', refId: 'role' },
  definition: 'label_values(up{job="app"}, role)',
  refresh: 2,
  multi: true,
  includeAll: true,
  allValue: '.*',
  sort: 1,
  current: { selected: true, text: ['All'], value: ['$__all'] },
  options: [],
};

const deployAnnotations = [
  {
    name: 'Slot switches',
    datasource: DS,
    enable: true,
    iconColor: 'blue',
    expr: 'changes(dms_live_slot{slot="green"}[2m]) > 0',
    step: '1m',
    titleFormat: 'Live slot changed',
    textFormat: '{{target}}',
  },
  {
    name: 'Deploys',
    datasource: DS,
    enable: true,
    iconColor: 'green',
    expr: 'sum by (target, outcome) (increase(dms_deploy_total[2m])) > 0',
    step: '1m',
    titleFormat: 'Deploy {{outcome}}',
    textFormat: '{{target}}',
  },
];

const upMapping = [
  { type: 'value', options: { '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } } },
];

const APP = 'role=~"$role", slot=~"$slot"';

export const dashboards: DashboardSpec[] = [
  {
    uid: 'dms-system',
    title: 'DMS / System overview',
    description: 'Host, nginx, PostgreSQL, Redis and every scrape target.',
    file: 'system-overview.json',
    rows: [
      [
        {
          title: 'Scrape targets',
          type: 'stat',
          w: 24,
          h: 5,
          targets: [{ expr: 'up', legend: '{{job}}/{{instance}}' }],
          mappings: upMapping,
          thresholds: [[null, 'red'], [1, 'green']],
        },
      ],
      [
        {
          title: 'Firing alerts',
          type: 'stat',
          h: 5,
          targets: [{ expr: 'count by (severity) (ALERTS{alertstate="firing"})', legend: '{{severity}}' }],
          thresholds: [[null, 'green'], [1, 'orange']],
        },
        {
          title: 'Public HTTPS probe',
          type: 'stat',
          h: 5,
          targets: [{ expr: 'probe_success{job="blackbox-https"}', legend: '{{instance}}' }],
          mappings: upMapping,
          thresholds: [[null, 'red'], [1, 'green']],
        },
        {
          title: 'TLS certificate expires in',
          type: 'stat',
          h: 5,
          unit: 's',
          targets: [{ expr: 'min(probe_ssl_earliest_cert_expiry) - time()', legend: 'certificate' }],
          thresholds: [[null, 'red'], [259200, 'orange'], [1209600, 'green']],
        },
      ],
      [
        {
          title: 'CPU busy',
          unit: 'percentunit',
          targets: [{ expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', legend: 'cpu' }],
        },
        {
          title: 'Memory available',
          unit: 'percentunit',
          targets: [{ expr: 'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes', legend: 'available' }],
        },
      ],
      [
        {
          title: 'Disk free',
          unit: 'percentunit',
          targets: [
            {
              expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"}',
              legend: '{{mountpoint}}',
            },
          ],
        },
        {
          title: 'Load average',
          targets: [
            { expr: 'node_load1', legend: '1m' },
            { expr: 'node_load5', legend: '5m' },
            { expr: 'count(node_cpu_seconds_total{mode="idle"})', legend: 'cores' },
          ],
        },
      ],
      [
        {
          title: 'nginx connections',
          targets: [
            { expr: 'nginx_connections_active', legend: 'active' },
            { expr: 'nginx_connections_waiting', legend: 'waiting' },
          ],
        },
        {
          title: 'nginx requests per second',
          unit: 'reqps',
          targets: [{ expr: 'rate(nginx_http_requests_total[$__rate_interval])', legend: 'requests' }],
        },
      ],
      [
        {
          title: 'PostgreSQL connections',
          targets: [
            { expr: 'sum by (datname) (pg_stat_database_numbackends)', legend: '{{datname}}' },
            { expr: 'max(pg_settings_max_connections)', legend: 'max_connections' },
          ],
        },
        {
          title: 'Redis memory',
          unit: 'bytes',
          targets: [
            { expr: 'redis_memory_used_bytes', legend: 'used' },
            { expr: 'redis_memory_max_bytes', legend: 'maxmemory' },
          ],
        },
      ],
    ],
  },
  {
    uid: 'dms-app',
    title: 'DMS / Application by role and slot',
    description: 'Traffic, errors and latency of the app services, per role and slot.',
    file: 'application.json',
    variables: [roleVar, slotVar],
    annotations: deployAnnotations,
    rows: [
      [
        {
          title: 'Instances up',
          type: 'stat',
          w: 24,
          h: 5,
          targets: [{ expr: `up{job="app", ${APP}}`, legend: '{{role}}-{{slot}}' }],
          mappings: upMapping,
          thresholds: [[null, 'red'], [1, 'green']],
        },
      ],
      [
        {
          title: 'Requests per second',
          unit: 'reqps',
          targets: [{ expr: `sum by (role, slot) (rate(http_requests_total{${APP}}[$__rate_interval]))`, legend: '{{role}} {{slot}}' }],
        },
        {
          title: 'Error ratio (5xx)',
          unit: 'percentunit',
          targets: [
            {
              expr: `sum by (role, slot) (rate(http_requests_total{${APP}, status=~"5.."}[$__rate_interval])) / sum by (role, slot) (rate(http_requests_total{${APP}}[$__rate_interval]))`,
              legend: '{{role}} {{slot}}',
            },
          ],
          thresholds: [[null, 'green'], [0.01, 'orange'], [0.05, 'red']],
        },
      ],
      [
        {
          title: 'Latency p95 (API promise: 200 ms)',
          unit: 's',
          targets: [
            {
              expr: `histogram_quantile(0.95, sum by (le, role, slot) (rate(http_request_duration_seconds_bucket{${APP}}[$__rate_interval])))`,
              legend: '{{role}} {{slot}}',
            },
          ],
          thresholds: [[null, 'green'], [0.2, 'red']],
        },
        {
          title: 'Latency p50',
          unit: 's',
          targets: [
            {
              expr: `histogram_quantile(0.5, sum by (le, role, slot) (rate(http_request_duration_seconds_bucket{${APP}}[$__rate_interval])))`,
              legend: '{{role}} {{slot}}',
            },
          ],
        },
      ],
      [
        {
          title: 'Responses by status',
          unit: 'reqps',
          stack: true,
          targets: [{ expr: `sum by (status) (rate(http_requests_total{${APP}}[$__rate_interval]))`, legend: '{{status}}' }],
        },
        {
          title: 'Resident memory',
          unit: 'bytes',
          targets: [{ expr: `process_resident_memory_bytes{${APP}}`, legend: '{{role}} {{slot}}' }],
        },
      ],
      [
        {
          title: 'Running versions',
          type: 'table',
          w: 24,
          targets: [{ expr: `dms_app_info{${APP}}`, format: 'table' }],
        },
      ],
    ],
  },
  {
    uid: 'dms-deploy',
    title: 'DMS / Deployment status',
    description: 'Live slot, deploy history, rollbacks and blue-green health of the toolkit.',
    file: 'deployment.json',
    annotations: deployAnnotations,
    rows: [
      [
        {
          title: 'Live slot',
          type: 'stat',
          h: 5,
          targets: [{ expr: 'dms_live_slot == 1', legend: '{{target}}: {{slot}}' }],
          thresholds: [[null, 'blue']],
        },
        {
          title: 'Deploy in progress',
          type: 'stat',
          h: 5,
          targets: [{ expr: 'dms_deploy_in_progress', legend: '{{target}}' }],
          mappings: [{ type: 'value', options: { '0': { text: 'idle', color: 'green' }, '1': { text: 'deploying', color: 'orange' } } }],
        },
        {
          title: 'Previous slot warm',
          type: 'stat',
          h: 5,
          targets: [{ expr: 'dms_previous_slot_warm', legend: '{{target}}' }],
          mappings: [{ type: 'value', options: { '0': { text: 'cold', color: 'orange' }, '1': { text: 'warm', color: 'green' } } }],
        },
        {
          title: 'Blue-green drift',
          type: 'stat',
          h: 5,
          targets: [{ expr: 'dms_bluegreen_drift', legend: '{{target}}' }],
          mappings: [{ type: 'value', options: { '0': { text: 'in sync', color: 'green' }, '1': { text: 'DRIFT', color: 'red' } } }],
        },
      ],
      [
        {
          title: 'Live slot over time',
          targets: [{ expr: 'dms_live_slot', legend: '{{target}} {{slot}}' }],
        },
        {
          title: 'Deploys per hour by outcome',
          type: 'timeseries',
          stack: true,
          targets: [{ expr: 'sum by (target, outcome) (increase(dms_deploy_total[1h]))', legend: '{{target}} {{outcome}}' }],
        },
      ],
      [
        {
          title: 'Since last successful deploy',
          type: 'stat',
          unit: 's',
          targets: [{ expr: 'time() - dms_deploy_last_success_timestamp_seconds', legend: '{{target}}' }],
        },
        {
          title: 'Last deploy duration',
          type: 'stat',
          unit: 's',
          targets: [{ expr: 'dms_deploy_duration_seconds', legend: '{{target}}' }],
        },
        {
          title: 'Rollbacks (range)',
          type: 'stat',
          targets: [{ expr: 'sum by (target) (increase(dms_rollbacks_total[$__range]))', legend: '{{target}}' }],
        },
        {
          title: 'Deploys (range)',
          type: 'stat',
          targets: [{ expr: 'sum by (outcome) (increase(dms_deploy_total[$__range]))', legend: '{{outcome}}' }],
        },
      ],
      [
        {
          title: 'Health checks',
          type: 'table',
          targets: [{ expr: 'dms_health_check_status', format: 'table' }],
          mappings: [
            {
              type: 'value',
              options: {
                '0': { text: 'ok', color: 'green' },
                '1': { text: 'warning', color: 'orange' },
                '2': { text: 'critical', color: 'red' },
                '3': { text: 'unknown', color: 'purple' },
              },
            },
          ],
        },
        {
          title: 'Health check latency',
          unit: 's',
          targets: [{ expr: 'dms_health_check_latency_seconds', legend: '{{check}}' }],
        },
      ],
      [
        {
          title: 'Versions per slot',
          type: 'table',
          w: 24,
          targets: [{ expr: 'count by (slot, version) (dms_app_info)', format: 'table' }],
        },
      ],
    ],
  },
  {
    uid: 'dms-business',
    title: 'DMS / Business',
    description: 'Documents created, read, updated and deleted; cache efficiency; logins.',
    file: 'business.json',
    annotations: deployAnnotations,
    rows: [
      [
        { title: 'Documents created (range)', type: 'stat', h: 5, targets: [{ expr: 'sum(increase(dms_documents_created_total[$__range]))', legend: 'created' }] },
        { title: 'Documents read (range)', type: 'stat', h: 5, targets: [{ expr: 'sum(increase(dms_documents_read_total[$__range]))', legend: 'read' }] },
        { title: 'Documents updated (range)', type: 'stat', h: 5, targets: [{ expr: 'sum(increase(dms_documents_updated_total[$__range]))', legend: 'updated' }] },
        { title: 'Documents deleted (range)', type: 'stat', h: 5, targets: [{ expr: 'sum(increase(dms_documents_deleted_total[$__range]))', legend: 'deleted' }] },
      ],
      [
        {
          title: 'Document operations per minute',
          unit: 'short',
          targets: [
            { expr: 'sum(rate(dms_documents_created_total[$__rate_interval])) * 60', legend: 'created' },
            { expr: 'sum(rate(dms_documents_read_total[$__rate_interval])) * 60', legend: 'read' },
            { expr: 'sum(rate(dms_documents_updated_total[$__rate_interval])) * 60', legend: 'updated' },
            { expr: 'sum(rate(dms_documents_deleted_total[$__rate_interval])) * 60', legend: 'deleted' },
          ],
        },
        {
          title: 'Cache hit ratio',
          unit: 'percentunit',
          targets: [
            {
              expr: 'sum(rate(dms_cache_hits_total[$__rate_interval])) / (sum(rate(dms_cache_hits_total[$__rate_interval])) + sum(rate(dms_cache_misses_total[$__rate_interval])))',
              legend: 'hit ratio',
            },
          ],
        },
      ],
      [
        {
          title: 'Logins per minute by result',
          stack: true,
          targets: [{ expr: 'sum by (result) (rate(dms_auth_logins_total[$__rate_interval])) * 60', legend: '{{result}}' }],
        },
        {
          title: 'Documents created per slot (range)',
          type: 'bargauge',
          targets: [{ expr: 'sum by (slot, version) (increase(dms_documents_created_total[$__range]))', legend: '{{slot}} {{version}}' }],
        },
      ],
    ],
  },
  {
    uid: 'dms-security',
    title: 'DMS / Security',
    description: 'Authentication failures, rate-limited requests (429) and refused requests.',
    file: 'security.json',
    rows: [
      [
        { title: 'Failed logins (5m)', type: 'stat', h: 5, targets: [{ expr: 'sum(increase(dms_auth_failures_total[5m]))', legend: 'failed logins' }], thresholds: [[null, 'green'], [20, 'orange'], [50, 'red']] },
        { title: '429 responses (5m)', type: 'stat', h: 5, targets: [{ expr: 'sum(increase(dms_rate_limited_requests_total[5m]))', legend: 'rate limited' }], thresholds: [[null, 'green'], [50, 'orange'], [100, 'red']] },
        { title: 'Login failure ratio (1h)', type: 'stat', h: 5, unit: 'percentunit', targets: [{ expr: 'sum(increase(dms_auth_logins_total{result="failure"}[1h])) / sum(increase(dms_auth_logins_total[1h]))', legend: 'failure ratio' }] },
      ],
      [
        {
          title: 'Authentication failures per minute',
          targets: [{ expr: 'sum by (slot) (rate(dms_auth_failures_total[$__rate_interval])) * 60', legend: '{{slot}}' }],
          thresholds: [[null, 'green'], [10, 'red']],
        },
        {
          title: 'Rate-limited requests (429) per minute by zone',
          targets: [{ expr: 'sum by (zone) (rate(dms_rate_limited_requests_total[$__rate_interval])) * 60', legend: '{{zone}}' }],
        },
      ],
      [
        {
          title: '401 / 403 / 429 responses per minute by role',
          stack: true,
          targets: [{ expr: 'sum by (role, status) (rate(http_requests_total{status=~"401|403|429"}[$__rate_interval])) * 60', legend: '{{role}} {{status}}' }],
        },
        {
          title: 'Security alerts firing',
          type: 'table',
          targets: [{ expr: 'ALERTS{alertname=~"AuthFailuresSpike|RateLimitedSpike|TlsCertificateExpiring", alertstate="firing"}', format: 'table' }],
        },
      ],
    ],
  },
];

export function renderDashboards(): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of dashboards) out.set(spec.file, JSON.stringify(dashboard(spec), null, 2) + '\n');
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? join(here, 'dashboards');
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of renderDashboards()) {
    writeFileSync(join(dir, file), text);
    console.log(`wrote ${join(dir, file)}`);
  }
}
