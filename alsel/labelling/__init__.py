"""Labelling a new pool: the loop of ``alsel loop`` run on texts without labels, one batch at a time,
with people labelling each batch in a spreadsheet or in Label Studio.

:class:`LabelProject` is the project on disk (``alsel label init/next/import/status/export``);
:mod:`.batches` and :mod:`.labelstudio` are the files annotators get and give back;
:mod:`.labels` the rules for what comes back; :mod:`.status` the learning curve and the
stopping signal.
"""

from .batches import BATCH_FORMATS
from .labelstudio import label_config, read_export, to_tasks
from .project import Batch, ImportReport, LabelProject, ProjectStatus

__all__ = ["LabelProject", "Batch", "ImportReport", "ProjectStatus", "BATCH_FORMATS", "label_config", "to_tasks", "read_export"]
