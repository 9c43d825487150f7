"""The notebook layer: live panel, live graph, resource re-injection prompt, saved-execution view, magics.

It observes the engine and never the other way round. ``import triggerflow_nb`` imports only
``cell_warnings`` and ``store_views`` of it (which gives the stores their views, see
``triggerflow_nb._store_views``); each module loads ipywidgets, IPython or graphviz only when used.
"""
