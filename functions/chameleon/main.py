# FunctionBench's chameleon: renders an HTML table of N rows with the Chameleon page-template engine
# (Debian python3-chameleon). The template is compiled once per instance, as a real service would.
import random

from chameleon import PageTemplate

from inputmode import pick_input, size_param

TEMPLATE = PageTemplate("""\
<table class="suite">
  <tr><th tal:repeat="h headers" tal:content="h">header</th></tr>
  <tr tal:repeat="row rows"><td tal:repeat="cell row" tal:content="cell">cell</td></tr>
</table>""")

CITIES = ["Zurich", "Edinburgh", "Lausanne", "Seattle", "Bangalore", "Lisbon"]


def make_rows(n, cols, seed):
    """Seeded table data. Every row carries a markup-looking note: the engine must escape it."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        row = [str(i), f"user-{rnd.randrange(10**6)}", rnd.choice(CITIES), f"{rnd.random() * 1000:.2f}",
               "<b>note</b> & more"]
        while len(row) < cols:
            row.append(str(rnd.randrange(10**9)))
        rows.append(row[:cols])
    return rows


def handler(event, context):
    inp = pick_input(event, context)
    n = int(size_param(event, "rows", 100, 200_000))
    cols = int(size_param(event, "cols", 6, 64))
    rows = make_rows(n, cols, inp["seed"])
    headers = ["id", "user", "city", "amount", "note", *[f"c{i}" for i in range(5, cols)]][:cols]
    html = TEMPLATE(headers=headers, rows=rows)
    return {"rows": n, "cols": cols, "bytes": len(html.encode()), "html": html, "input": inp}
