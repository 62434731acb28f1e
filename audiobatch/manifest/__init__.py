"""Manifests: the job models (one per kind) and the loaders that validate files into them."""

from audiobatch.manifest.audio import StemsJob, VoiceChangeJob, VoiceSettings
from audiobatch.manifest.common import JobOutput, LocalFile, S3Object, Source
from audiobatch.manifest.dialogue import (
    DialogueInput,
    DialogueJob,
    DialogueSettings,
    PronunciationDictionaryLocator,
)
from audiobatch.manifest.loaders import load_manifests
from audiobatch.manifest.music import MusicJob, MusicPlanJob, MusicPrompt, PlanSource
from audiobatch.manifest.schema import KINDS, JobSpec, Manifest

__all__ = [
    "KINDS",
    "DialogueInput",
    "DialogueJob",
    "DialogueSettings",
    "JobOutput",
    "JobSpec",
    "LocalFile",
    "Manifest",
    "MusicJob",
    "MusicPlanJob",
    "MusicPrompt",
    "PlanSource",
    "PronunciationDictionaryLocator",
    "S3Object",
    "Source",
    "StemsJob",
    "VoiceChangeJob",
    "VoiceSettings",
    "load_manifests",
]
