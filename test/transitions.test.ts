import { describe, expect, it } from 'vitest';
import type { ContainerStatus } from '../src/container/container.js';
import { CREATE_FAILED, checkStartable, createFailed, startFailed, started } from '../src/container/transitions.js';

const created: ContainerStatus = { state: 'CONTAINER_CREATED', pid: 42 } as ContainerStatus;

describe('container status transitions', () => {
  it('runs from the start time, keeping an exit recorded while the start answered', () => {
    expect(started(created, '100')).toMatchObject({ state: 'CONTAINER_RUNNING', startedAt: '100', pid: 42 });
    const exited = { ...created, state: 'CONTAINER_EXITED', exitCode: 0, finishedAt: '150' } as ContainerStatus;
    expect(started(exited, '100')).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 0, startedAt: '100', finishedAt: '150' });
  });

  it('records failures of create and start with the reasons the kubelet shows', () => {
    expect(createFailed(created, 'no runc')).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 128, reason: CREATE_FAILED, message: 'no runc' });
    expect(startFailed(created, 'exec failed')).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 128, reason: 'ContainerCannotRun' });
  });

  it('lets only a successfully created container start', () => {
    expect(() => checkStartable('c1', created)).not.toThrow();
    expect(() => checkStartable('c1', createFailed(created, 'no runc'))).toThrow('container c1 could not be created: no runc');
    expect(() => checkStartable('c1', started(created, '1'))).toThrow('container c1 is running, not created');
  });
});
