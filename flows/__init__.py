"""One module per stage of the yearly cycle. Each flow reads like the procedure an official describes."""
