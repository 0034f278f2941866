/** @module The panel's CSS, scoped by its shadow root. Colours follow the page's light or dark scheme; `--eg-accent` and `--eg-running` can be set from outside. */
export const css = `
:host{display:block;max-width:100%;overflow-wrap:anywhere;font:13px/1.45 system-ui,sans-serif;color:CanvasText;background:Canvas;color-scheme:light dark;--line:color-mix(in srgb,currentColor 22%,transparent)}
*{box-sizing:border-box}
header{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;padding:.5em}
.views{display:grid;gap:.6em;padding:.5em;grid-template-columns:repeat(auto-fit,minmax(min(100%,24em),1fr))}
section{min-width:0;border:1px solid var(--line);border-radius:8px;padding:.6em}
h2{font-size:1em;margin:0 0 .5em}
button,select,textarea,summary{font:inherit;color:inherit}
button,select,textarea{max-width:100%;border:1px solid var(--line);border-radius:5px;padding:.2em .55em;background:Canvas}
button:disabled{opacity:.5}
label{display:inline-flex;flex-wrap:wrap;gap:.3em;align-items:center;margin:0 .6em .4em 0}
form label{display:block}
textarea{display:block;width:100%;min-height:4.5em;font-family:ui-monospace,monospace}
summary{cursor:pointer}
:focus-visible{outline:2px solid var(--eg-accent,#6d5dfc);outline-offset:2px}
pre,.patch{margin:0;tab-size:2;font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;max-height:22em;overflow:auto}
ol,ul{margin:0;padding:0;list-style:none}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2em .8em;margin:0 0 .6em}
dt{opacity:.7}dd{margin:0}
svg{display:block;max-width:100%;height:auto;margin:auto}
svg text{font-size:12px;text-anchor:middle;dominant-baseline:central;fill:currentColor}
.node rect{fill:Canvas;stroke:currentColor}
.node.running rect{fill:var(--eg-running,#fbbf24);stroke-width:2.5}
.node.running text{fill:#000}
.edge{fill:none;stroke:currentColor;opacity:.6}
.cond{stroke-dasharray:5 4}
.arrow{fill:currentColor;opacity:.6}
.label{font-size:10px;paint-order:stroke;stroke:Canvas;stroke-width:3}
[role=listbox]{max-height:26em;overflow:auto}
[role=option]{display:flex;gap:.5em;padding:0 .3em;border-radius:5px;cursor:pointer}
[role=option]:hover{background:var(--line)}
[aria-selected=true]{background:color-mix(in srgb,var(--eg-accent,#6d5dfc) 22%,transparent)}
.row{display:flex;flex-wrap:wrap;gap:.2em .6em;padding:.25em 0}
.lanes{display:flex;flex:none;color:var(--eg-accent,#6d5dfc);--y:.97em}
.lanes span{position:relative;width:14px}
.lanes i{position:absolute;border:0 solid;border-left-width:2px;left:6px}
.u{top:0;height:var(--y)}.d{top:var(--y);bottom:0}
.lanes .l,.lanes .r{border-width:2px 0 0;top:calc(var(--y) - 1px);left:0;width:7px}.lanes .r{left:7px}
.o,.h{z-index:1;top:var(--y);width:8px;height:8px;margin:-4px 0 0 -3px;border-radius:50%;background:currentColor}
.lanes .h{width:10px;height:10px;margin:-5px 0 0 -4px;background:Canvas;border-width:2px}
.tag{border:1px solid var(--line);border-radius:4px;padding:0 .3em}
.head{font-weight:600}
.muted{opacity:.7}
.warn{color:#b45309}
.error{color:#c0262d}
.add{color:#15803d}.remove{color:#c0262d}
`
