"""The page ``inspect`` writes: one self-contained HTML file (its style,
script and data inline; nothing fetched, so it opens from disk with the
network off).

The data is one JSON object in ``<script type="application/json"
id="data">`` (a test reads it back with :func:`read_data`); the script
draws the text from it, one ``<span>`` per character, shaded by the
model's surprisal or by the chosen unit, and shows the model's five best
guesses for a character on hover or tap.
"""
import html
import json
import re

DATA = re.compile(r'<script type="application/json" id="data">(.*?)'
                  r'</script>', re.S)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans",
  "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", "WenQuanYi Zen Hei", sans-serif; margin: 1.5em auto;
  max-width: 60em; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.3em; margin-bottom: .2em; }
.stats { font-size: 1.1em; margin: .3em 0; }
.stats b { font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: .92em; margin: .3em 0; }
.warn { background: #fff4d6; border-left: 4px solid #e0a000;
  padding: .4em .7em; }
.controls { margin: .8em 0 .4em; display: flex; flex-wrap: wrap;
  gap: .6em; align-items: center; }
select { font-size: 1em; max-width: 100%; }
#legend { display: flex; align-items: center; gap: .4em; font-size: .9em;
  color: #444; }
#legend .bar { width: 12em; height: .9em; border: 1px solid #ccc; }
#explain { font-size: .92em; color: #333; min-height: 1.2em; }
#text { font-size: 19px; line-height: 1.95; white-space: pre-wrap;
  word-break: break-all; border: 1px solid #ddd; padding: .8em;
  border-radius: 4px; }
#text span { padding: 2px 0; border-radius: 2px; cursor: default; }
#text span.nl { color: #aaa; font-size: .75em; }
#text span.first { outline: 1px dashed #bbb; }
#text span.active { outline: 2px solid #333; }
#tip { position: absolute; background: #fff; border: 1px solid #888;
  box-shadow: 0 2px 8px rgba(0,0,0,.25); padding: .5em .7em;
  font-size: 14px; z-index: 10; min-width: 13em; border-radius: 4px; }
#tip table { border-collapse: collapse; width: 100%; }
#tip td { padding: 1px 4px; }
#tip td.p { text-align: right; font-variant-numeric: tabular-nums; }
#tip tr.hit { background: #e8f3e8; font-weight: bold; }
#tip .bar { display: inline-block; height: .7em; background: #5a8dd6; }
#tip .head, #tip .foot { color: #444; margin: .2em 0; }
"""

SCRIPT = r"""
(function () {
  const data = JSON.parse(document.getElementById('data').textContent);
  const chars = Array.from(data.text);
  const textEl = document.getElementById('text');
  const tip = document.getElementById('tip');
  const chooser = document.getElementById('unit');
  const explain = document.getElementById('explain');
  const legendBar = document.querySelector('#legend .bar');
  const legendLo = document.getElementById('lo');
  const legendHi = document.getElementById('hi');
  const maxBits = Math.log2(data.vocab.length);
  const spans = [];
  let unit = null;

  function shown(c) {
    if (c === '\n') return '↵';
    if (c === ' ') return '␣';
    if (c === '\t') return '⇥';
    return c;
  }
  function heat(s) {
    if (s === null) return '';
    const f = Math.min(s / maxBits, 1);
    return 'hsl(14, 90%, ' + (100 - 55 * f).toFixed(1) + '%)';
  }
  function unitColour(q, signed) {
    const f = Math.min(Math.abs(q) / 100, 1);
    if (!signed) return 'hsl(150, 55%, ' + (100 - 58 * f).toFixed(1) + '%)';
    const hue = q >= 0 ? 4 : 214;
    return 'hsl(' + hue + ', 80%, ' + (100 - 52 * f).toFixed(1) + '%)';
  }
  function shade() {
    for (let t = 0; t < spans.length; t++) {
      spans[t].style.backgroundColor = unit === null ? heat(data.surprisal[t])
        : unitColour(unit.values[t], unit.signed);
    }
    if (unit === null) {
      legendBar.style.background =
        'linear-gradient(to right, hsl(14,90%,100%), hsl(14,90%,45%))';
      legendLo.textContent = '0 bits (sure)';
      legendHi.textContent = maxBits.toFixed(1) +
        ' bits (a uniform guess among ' + data.vocab.length + ')';
      explain.textContent = 'Shaded by surprisal: −log₂ p of each ' +
        'character given everything before it' + (data.bidirectional ?
        ' (and, for this bidirectional model, after it)' : '') +
        '. Hover or tap a character for the model’s five best guesses.';
    } else {
      const s = unit.scale.toPrecision(3);
      legendBar.style.background = unit.signed ?
        'linear-gradient(to right, hsl(214,80%,48%), #fff, hsl(4,80%,48%))' :
        'linear-gradient(to right, #fff, hsl(150,55%,42%))';
      legendLo.textContent = unit.signed ? '−' + s :
        unit.offset.toPrecision(3);
      legendHi.textContent = unit.signed ? '+' + s :
        (unit.offset + unit.scale).toPrecision(3);
      explain.textContent = unit.label + ': ' + unit.why;
    }
  }
  function percent(p) {
    return p >= 0.1 ? (100 * p).toFixed(1) + '%' :
      (100 * p).toPrecision(2) + '%';
  }
  function show(t) {
    spans.forEach(function (s) { s.classList.remove('active'); });
    spans[t].classList.add('active');
    const rows = [];
    const top = data.top[t];
    let head;
    if (top === null) {
      head = 'The first character: there is nothing before it to ' +
        'predict it from.';
    } else {
      head = 'The model’s five best guesses for character ' + (t + 1) + ':';
      for (let k = 0; k < top.length; k += 2) {
        const c = data.vocab[top[k]], p = top[k + 1];
        rows.push('<tr' + (top[k] === data.indices[t] ? ' class="hit"' : '') +
          '><td>' + escapeHtml(shown(c)) + '</td><td class="p">' +
          percent(p) + '</td><td><span class="bar" style="width:' +
          Math.max(1, Math.round(60 * p)) + 'px"></span></td></tr>');
      }
    }
    let foot = '';
    if (top !== null) {
      const s = data.surprisal[t];
      foot = 'Actual: ' + escapeHtml(shown(chars[t])) +
        (data.indices[t] === data.unk && chars[t] !== data.vocab[data.unk] ?
          ' (read as ' + escapeHtml(data.vocab[data.unk]) + ')' : '') +
        ', p = ' + percent(Math.pow(2, -s)) + ', ' + s.toFixed(2) + ' bits';
    }
    if (unit !== null) {
      foot += (foot ? '<br>' : '') + escapeHtml(unit.label) + ' = ' +
        (unit.offset + unit.values[t] * unit.scale / 100).toFixed(3);
    }
    tip.innerHTML = '<div class="head">' + head + '</div><table><tbody>' +
      rows.join('') + '</tbody></table><div class="foot">' + foot + '</div>';
    tip.hidden = false;
    const r = spans[t].getBoundingClientRect();
    let left = r.left + window.scrollX;
    const width = tip.offsetWidth;
    if (left + width > document.documentElement.clientWidth - 8) {
      left = Math.max(4, document.documentElement.clientWidth - width - 8);
    }
    tip.style.left = left + 'px';
    tip.style.top = (r.bottom + window.scrollY + 6) + 'px';
  }
  function escapeHtml(s) {
    return s.replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c];
    });
  }
  const frag = document.createDocumentFragment();
  chars.forEach(function (c, t) {
    const span = document.createElement('span');
    span.dataset.t = t;
    if (c === '\n') {
      span.textContent = '↵';
      span.className = 'nl';
    } else {
      span.textContent = c;
    }
    if (t === 0) span.classList.add('first');
    frag.appendChild(span);
    if (c === '\n') frag.appendChild(document.createTextNode('\n'));
    spans.push(span);
  });
  textEl.appendChild(frag);
  function target(e) {
    const t = e.target.dataset ? e.target.dataset.t : undefined;
    return t === undefined ? null : Number(t);
  }
  textEl.addEventListener('mouseover', function (e) {
    const t = target(e);
    if (t !== null) show(t);
  });
  textEl.addEventListener('click', function (e) {
    const t = target(e);
    if (t !== null) show(t);
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') tip.hidden = true;
  });
  data.units.forEach(function (u, i) {
    const o = document.createElement('option');
    o.value = i;
    o.textContent = u.label + ' · ' + u.feature + ' ' + u.score.toFixed(2);
    chooser.appendChild(o);
  });
  chooser.addEventListener('change', function () {
    unit = chooser.value === '' ? null : data.units[Number(chooser.value)];
    shade();
    tip.hidden = true;
  });
  shade();
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="%(lang)s">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title>
<style>%(style)s</style>
</head>
<body>
<h1>%(title)s</h1>
<p class="stats">%(stats)s</p>
%(notes)s
<div class="controls">
<label for="unit">Shade by</label>
<select id="unit"><option value="">surprisal (the model's guess)</option>
</select>
<span id="legend"><span id="lo"></span><span class="bar"></span>
<span id="hi"></span></span>
</div>
<p id="explain"></p>
<div id="text"></div>
<div id="tip" hidden></div>
<p class="note">The units are listed best first by their score: the
largest absolute correlation of the unit's value (after reading each
character) with one of: %(features)s. A state's or candidate's value is
red where positive, blue where negative, up to its largest absolute value
on this text; a gate's (between 0 and 1) is green, from its least to its
largest value on this text.</p>
<script type="application/json" id="data">%(data)s</script>
<script>%(script)s</script>
</body>
</html>
"""


def embed_json(data):
    """``data`` as JSON that can sit inside a <script> element: every '<'
    escaped (no '</script>' can end it early), non-ASCII kept."""
    return json.dumps(data, ensure_ascii=False, separators=(',', ':')) \
        .replace('<', '\\u003c')


def render(data, notes):
    """The page of ``data`` (what ``inspect`` computed), with ``notes``
    (plain-text sentences; those starting with '!' are shown as
    warnings) under its figures."""
    stats = ('<b>%.4f</b> bits per character · perplexity <b>%.4f</b> · '
             '%d characters predicted · %s' % (
                 data['bits_per_char'], data['perplexity'],
                 data['predicted'], html.escape(data['model'])))
    paragraphs = ['<p class="note%s">%s</p>' % (
        ' warn' if n.startswith('!') else '', html.escape(n.lstrip('!')))
        for n in notes]
    features = '; '.join('<i>%s</i> (%s)' % (html.escape(name),
                                            html.escape(why))
                         for name, why in data['features'].items()) \
        or 'nothing (the text is too uniform)'
    cjk = sum('\u4e00' <= c <= '\u9fff' for c in data['text'])
    return PAGE % dict(
        lang='zh' if cjk > len(data['text']) / 4 else 'en',
        title=html.escape('Inside %s: %s' % (data['checkpoint'],
                                             data['source'])),
        style=STYLE, stats=stats, notes='\n'.join(paragraphs),
        features=features, data=embed_json(data), script=SCRIPT)


def read_data(page):
    """The data embedded in a page's text (for the tests and tools)."""
    return json.loads(DATA.search(page).group(1))
