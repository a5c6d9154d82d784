// Reads a JSON list of failed responses ({status, statusText, data}) on stdin and writes what Grafana's
// own toDataQueryError (npm @grafana/runtime) makes of each: the message a panel shows. The plugin passes
// a failed /query or /variable response to it unchanged.
'use strict';
const path = require('path');

const runtimeDir = path.dirname(require.resolve('@grafana/runtime'));
const { toDataQueryError } = require(path.join(runtimeDir, 'utils', 'toDataQueryError.cjs'));

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const errors = JSON.parse(input).map((response) => {
    const error = toDataQueryError(response);
    return { message: error.message, messageType: typeof error.message };
  });
  process.stdout.write(JSON.stringify(errors));
});
