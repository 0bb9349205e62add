"""The live session window: controller, video stage, panels, chat and telestration."""
