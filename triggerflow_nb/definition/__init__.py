"""The flow definition: the graph as plain data, and the builder DSL that fills it."""
