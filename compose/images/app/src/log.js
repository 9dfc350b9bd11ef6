'use strict';
// JSON-lines logger on stdout; never logs secrets.
const { logLevel, role, slot, version } = require('./config.js');
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const min = LEVELS[logLevel] ?? LEVELS.info;
function log(level, msg, fields = {}) {
  if ((LEVELS[level] ?? 0) < min) return;
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, role, slot, version, msg, ...fields }) + '\n');
}
module.exports = {
  debug: (m, f) => log('debug', m, f),
  info: (m, f) => log('info', m, f),
  warn: (m, f) => log('warn', m, f),
  error: (m, f) => log('error', m, f),
};
