"""One module per `harness` command group; `harness.cli` assembles them."""
