"""An executed notebook as HTML that reads the same with and without the network.

nbconvert's lab template writes a widget output as its ``widget-view`` script tag only,
and the widget manager that turns those tags into panels is loaded from a CDN: offline,
every panel is an empty box. This template (the lab one with one block replaced) also
writes the output's ``text/html``, the static fallback our widgets carry (see
``triggerflow_nb.notebook.static_fallback``), right before the tag. When the widget
manager does load, it inserts the live view between the two (a ``.widget-subarea``
element), and a CSS rule hides the fallback that is followed by one: online the page
shows the widgets, offline their fallbacks. Widgets without a ``text/html`` are written
as before. Unlike the lab template, the block adds no random element ids.

Needs nbconvert (a dependency of Jupyter, imported only when called).
"""

from __future__ import annotations

from typing import Any

TEMPLATE_NAME = "triggerflow_lab.html.j2"

TEMPLATE = r"""{%- extends 'index.html.j2' -%}

{% block extra_css %}
{{ super() }}
<style type="text/css">
/* The widget manager put the live view after the fallback: show only the live view. */
.tf-static-fallback:has(+ .widget-subarea) { display: none; }
</style>
{% endblock extra_css %}

{%- block data_widget_view scoped %}
<div class="jupyter-widgets jp-OutputArea-output {{ extra_class }}">
{%- if 'text/html' in output.data %}
<div class="tf-static-fallback">
{{ output.data['text/html'] }}
</div>
{%- endif %}
<script type="application/vnd.jupyter.widget-view+json">
{{ output.data['application/vnd.jupyter.widget-view+json'] | json_dumps | escape_html_script }}
</script>
</div>
{%- endblock data_widget_view -%}
"""


def notebook_to_html(nb: Any) -> str:
    """HTML of an executed notebook (an ``nbformat`` node): lab template, widget state embedded, fallbacks kept."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file=TEMPLATE_NAME,
                            extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})])
    body, _ = exporter.from_notebook_node(nb)
    return body
