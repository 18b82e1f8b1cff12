"""The agent's body: the PyBullet humanoid driven kinematically from semantic joint angles, its renderer, mocap
playback and BVH export. Import the submodules (humanoid, render, joints, mocap, bvh, clip); pybullet loads lazily."""
