"""Every table of every package, as Alembic compares and creates them."""

from sqlmodel import SQLModel

from audio import models as audio_models
from content import models as content_models
from core import models as core_models
from scheduler import models as scheduler_models

# Importing a models module registers its tables; naming them here keeps linters
# from dropping an import that looks unused.
MODEL_MODULES = (core_models, content_models, audio_models, scheduler_models)

target_metadata = SQLModel.metadata
