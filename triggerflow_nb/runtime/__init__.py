"""Running a flow: lifecycle, graph walking, the `data` view, the stream, interrupts."""
