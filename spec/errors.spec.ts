// SPEC §5, one test per row: errors and bad input, seen through the mount.
import { expect } from 'chai';
import { promises as fs } from 'fs';
import { ProcstatError } from '../src';
import { mountedWithLimit } from './helpers/mounts';
import { sh, shOk } from './helpers/shell';

describe('errors and bad input (SPEC §5)', () => {
  const t = mountedWithLimit();

  it('a read of a removed item is ENOENT, also through a descriptor opened before the removal', async () => {
    const value = t.ctx.createValue(null, 'doomed', () => 1);
    const handle = await fs.open(`${t.mnt}/doomed`, 'r');
    try {
      t.ctx.remove(value);
      const error = await handle.read(Buffer.alloc(16), 0, 16, 0).catch((err) => err);
      expect(error).to.have.property('code', 'ENOENT');
    } finally {
      await handle.close();
    }
    expect((await sh(`cat ${t.mnt}/doomed`)).stderr).to.match(/No such file or directory/);
  });

  it('a write to a read-only file is EACCES', async () => {
    t.ctx.createValue(null, 'ro', () => 1);
    const error = await fs.writeFile(`${t.mnt}/ro`, '2').catch((err) => err);
    expect(error).to.have.property('code', 'EACCES');
  });

  for (const bad of ['abc', '12abc', '1e400', '\n', ' ', '4.5', '0x', 'x'.repeat(5000)]) {
    it(`writing ${JSON.stringify(bad.slice(0, 12))}${bad.length > 12 ? '…' : ''} to an int parameter is EINVAL and keeps the value`, async () => {
      const error = await fs.writeFile(`${t.mnt}/limit`, bad).catch((err) => err);
      expect(error).to.have.property('code', 'EINVAL');
      expect(t.limit).to.equal(5);
      expect(await shOk(`cat ${t.mnt}/limit`)).to.equal('5\n');
    });
  }

  it('a value refused by min/max or validate() is EINVAL and keeps the value', async () => {
    let ratio = 0.5;
    t.ctx.createParameter(null, 'ratio', {
      get: () => ratio, set: (v: number) => { ratio = v; }, type: 'number', min: 0, max: 1,
      validate: (v: number) => v !== 0.25 || 'a quarter is not allowed',
    });
    for (const bad of ['1.5', '-1', '0.25']) {
      expect((await sh(`echo ${bad} > ${t.mnt}/ratio`)).stderr, bad).to.match(/Invalid argument/);
    }
    expect(ratio).to.equal(0.5);
    await shOk(`echo 0.75 > ${t.mnt}/ratio`);
    expect(ratio).to.equal(0.75);
  });

  it('echo 5 > parameter (open with O_TRUNC) works', async () => {
    await shOk(`echo 9 > ${t.mnt}/limit`);
    expect(t.limit).to.equal(9);
    await fs.writeFile(`${t.mnt}/limit`, '11\n', { flag: 'w' });
    expect(t.limit).to.equal(11);
  });

  for (const [what, command] of [
    ['mkdir', 'mkdir $M/d'], ['rm', 'rm -f $M/limit'], ['rmdir', 'rmdir $M/dir'], ['mv', 'mv $M/limit $M/limit2'],
    ['touch (new file)', 'touch $M/new'], ['touch (existing file)', 'touch $M/limit'], ['chmod', 'chmod 777 $M/limit'],
    ['ln -s', 'ln -s /etc/passwd $M/link'], ['ln', 'ln $M/limit $M/hard'],
  ]) {
    it(`${what} inside the mount is EPERM and leaves the tree unchanged`, async () => {
      t.ctx.createDirectory(null, 'dir');
      const result = await sh(command.replace(/\$M/g, t.mnt));
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(/Operation not permitted|Read-only file system/);
      expect((await shOk(`ls ${t.mnt}`)).split('\n').filter(Boolean)).to.deep.equal(['dir', 'limit', 'procstat']);
      expect(await shOk(`stat -c %a ${t.mnt}/limit`)).to.equal('644\n');
    });
  }

  it('a getter that throws is EIO for that read only, reported once through the error event', async () => {
    const errors: Error[] = [];
    t.ctx.on('error', (err) => errors.push(err));
    t.ctx.createValue(null, 'broken', () => { throw new Error('database handle closed'); });
    t.ctx.createValue(null, 'fine', () => 42);
    for (let i = 0; i < 3; i++) {
      expect((await sh(`cat ${t.mnt}/broken`)).stderr).to.match(/Input\/output error/);
    }
    expect(await shOk(`cat ${t.mnt}/fine`)).to.equal('42\n');
    expect(errors).to.have.length(1);
    expect(errors[0]).to.be.instanceOf(ProcstatError);
    expect(errors[0].message).to.match(/broken.*database handle closed/);
  });

  it('a set() that throws is EINVAL and keeps the value', async () => {
    let level = 1;
    t.ctx.createParameter(null, 'level', { get: () => level, set: () => { throw new Error('not now'); } });
    expect((await sh(`echo 3 > ${t.mnt}/level`)).stderr).to.match(/Invalid argument/);
    expect(level).to.equal(1);
  });

  it('invalid names are ProcstatError EINVAL naming the bad name', () => {
    for (const name of ['', '.', '..', 'a/b', 'value_90%', 'x'.repeat(256), 'sp ace']) {
      const error = (() => { try { t.ctx.createValue(null, name, () => 1); } catch (err) { return err; } })();
      expect(error, name).to.be.instanceOf(ProcstatError);
      expect((error as ProcstatError).code).to.equal('EINVAL');
      expect((error as Error).message).to.include(JSON.stringify(name));
    }
  });
});
