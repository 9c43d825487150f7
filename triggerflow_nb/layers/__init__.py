"""The three storage layers of an execution: state, flow_data and runtime_resources."""
