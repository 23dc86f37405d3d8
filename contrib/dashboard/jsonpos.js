// Where is definition.load.stages[1].duration in this JSON text? Used to
// point at the server's field-path validation errors inside the editor.

// 'definition.load.stages[1].duration' -> ['definition', 'load', 'stages', 1, 'duration']
export function parsePath(field) {
  const out = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let m;
  while ((m = re.exec(field || '')) !== null) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

// The span {start, end, exact} of the value at path (keys and indices) in
// text, or of its deepest ancestor present (exact: false); null when the
// text is not JSON.
export function locate(text, path) {
  let i = 0;
  let best = null;
  let bestDepth = -1;
  const fail = () => { throw new SyntaxError(`unexpected input at ${i}`); };
  const skip = () => { while (i < text.length && ' \t\r\n'.includes(text[i])) i++; };
  const str = () => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
  };
  function val(depth, onPath) {
    skip();
    const start = i;
    const c = text[i];
    if (c === '{' || c === '[') {
      const obj = c === '{';
      i++;
      skip();
      if (text[i] === (obj ? '}' : ']')) i++;
      else {
        for (let n = 0; ; n++) {
          skip();
          let key = n;
          if (obj) {
            if (text[i] !== '"') fail();
            const ks = i;
            str();
            key = JSON.parse(text.slice(ks, i));
            skip();
            if (text[i] !== ':') fail();
            i++;
          }
          val(depth + 1, onPath && depth < path.length && path[depth] === key);
          skip();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === (obj ? '}' : ']')) { i++; break; }
          fail();
        }
      }
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && /[-+0-9.eEa-z]/.test(text[i])) i++;
      if (i === start) fail();
    }
    if (onPath && depth > bestDepth) {
      best = { start, end: i };
      bestDepth = depth;
    }
  }
  try {
    val(0, true);
  } catch {
    return null;
  }
  return best && { ...best, exact: bestDepth === path.length };
}

// 1-based line and column of an offset.
export function lineCol(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}
