"""One module per modelled thing: producers, buffers, consumers, the service."""
