"""The work of the cycle: plain typed functions, wrapped as Prefect tasks where that helps."""
