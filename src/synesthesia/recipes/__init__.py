"""One recipe per dataset (``mpd``, ``artsound``, ``museart``): plain
functions over a dataset folder that run the stages in order and write the
tables, report and card. No Prefect here: a flow maps a recipe's shard work
onto a task runner by passing its shard runner."""
