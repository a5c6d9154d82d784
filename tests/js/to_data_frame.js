// Reads {"query": [...], "variable": [...]} on stdin: a promcast /query answer and a /variable answer.
// Writes what Grafana makes of them: the simpod-json-datasource plugin passes every /query element to
// toDataFrame, and turns a /variable answer into options the way its ResponseParser does.
'use strict';
const path = require('path');

// @grafana/data's Store subscribes to the browser's "storage" event when it loads; give it a stub
// window for that one module only (a global window would make other modules expect a DOM).
globalThis.window = { addEventListener() {}, removeEventListener() {} };
require(path.join(path.dirname(require.resolve('@grafana/data')), 'utils', 'store.cjs'));
delete globalThis.window;

const { toDataFrame, getFieldDisplayName, FieldType } = require('@grafana/data');

function describeFrames(elements) {
  const frames = elements.map((element) => toDataFrame(element));
  return frames.map((frame) => ({
    name: frame.name === undefined ? null : frame.name,
    refId: frame.refId === undefined ? null : frame.refId,
    length: frame.length,
    meta: frame.meta === undefined ? null : frame.meta,
    fields: frame.fields.map((field) => ({
      name: field.name,
      type: field.type,
      displayName: getFieldDisplayName(field, frame, frames),
      first: field.values.length ? field.values[0] : null,
      last: field.values.length ? field.values[field.values.length - 1] : null,
    })),
  }));
}

// simpod-json-datasource's ResponseParser.transformMetricFindResponse, verbatim in behaviour
function variableOptions(answer) {
  const frame = toDataFrame(answer);
  const values = [];
  const textField = frame.fields.find((f) => f.name === '__text');
  const valueField = frame.fields.find((f) => f.name === '__value');
  if (textField && valueField) {
    for (let i = 0; i < textField.values.length; i++) {
      values.push({ text: '' + textField.values[i], value: '' + valueField.values[i] });
    }
  } else {
    values.push(...frame.fields.flatMap((f) => f.values).map((v) => ({ text: v })));
  }
  return Array.from(new Set(values.map((v) => v.text))).map((text) => ({
    text,
    value: values.find((v) => v.text === text)?.value,
  }));
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const request = JSON.parse(input);
  const out = {
    timeType: FieldType.time,
    query: describeFrames(request.query || []),
    variable: request.variable === undefined ? null : variableOptions(request.variable),
  };
  process.stdout.write(JSON.stringify(out));
});
