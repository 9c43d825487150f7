"""The notebook layer: live panel, live graph, resource re-injection prompt, saved-execution view, magics.

It observes the engine and never the other way round. Nothing here is imported by
``import triggerflow_nb``; each module loads ipywidgets, IPython or graphviz only when used.
"""
